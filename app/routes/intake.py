"""The intake page (app/views/intake.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import intake

intake.render()
