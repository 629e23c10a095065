"""The statistics page (app/views/statistics.py); a file, so that st.navigation and AppTest address it by path."""
from app import session
from app.views import statistics

statistics.render(session.language(), session.user())
