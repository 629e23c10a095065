"""The chat page (app/views/onestop_chat.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import onestop_chat

onestop_chat.render()
