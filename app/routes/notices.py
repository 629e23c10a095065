"""The notices page (app/views/notices.py); a file, so that st.navigation and AppTest address it by path."""
from app import session
from app.views import notices

notices.render(session.language(), session.user())
