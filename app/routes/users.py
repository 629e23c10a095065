"""The users page (app/views/users.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import users

users.render()
