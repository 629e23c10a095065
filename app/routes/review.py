"""The review page (app/views/review.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import review

review.render()
