"""The audit page (app/views/audit.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import audit

audit.render()
