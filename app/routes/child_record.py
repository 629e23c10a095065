"""The child's record page (app/views/child_record.py); a file, so that st.navigation and AppTest address it by
path."""
from app import session
from app.views import child_record

child_record.render(session.language(), session.user())
