"""The model page (app/views/model.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import model

model.render()
