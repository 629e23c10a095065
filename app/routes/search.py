"""The search page (app/views/search.py); a file, so that st.navigation and AppTest address it by path."""
from app import session
from app.views import search

search.render(session.language(), session.user())
