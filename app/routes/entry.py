"""The entry page (app/views/entry.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import entry

entry.render()
