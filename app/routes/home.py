"""The home page (app/views/home.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import home

home.render()
