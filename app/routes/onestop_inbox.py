"""The inbox page (app/views/onestop_inbox.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import onestop_inbox

onestop_inbox.render()
