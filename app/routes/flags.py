"""The flags page (app/views/flags.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import flags

flags.render()
