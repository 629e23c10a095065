"""The navigator page (app/views/onestop_navigator.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import onestop_navigator

onestop_navigator.render()
