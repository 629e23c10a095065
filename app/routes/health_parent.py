"""The parents' health-record page (app/views/health.py), opened with a code and without an account."""
from app import session
from app.views import health, onestop_parents

onestop_parents.page_setup(session.language(), "health_parent")
health.render_parent(session.language())
