"""The linkage review page (app/views/linkage_review.py); a file, so that st.navigation and AppTest address it by
path."""
from app import session
from app.views import linkage_review

linkage_review.render(session.language(), session.user())
