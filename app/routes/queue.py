"""The queue page (app/views/queue.py); a file, so that st.navigation and AppTest address it by path."""
from app.views import queue

queue.render()
