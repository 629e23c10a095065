"""The health staff's handover page (app/views/health.py); a file, so that st.navigation and AppTest address it by
path."""
from app import session
from app.views import health

health.render_handovers(session.language(), session.user())
