"""The code page (app/views/onestop_code.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import onestop_code

onestop_code.render()
