"""The signin page (app/views/signin.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import signin

signin.render()
