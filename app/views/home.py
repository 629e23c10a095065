"""The home page of the roles whose own pages come with later issues (manager, health staff, family support):
it says honestly what is available to them today. A manager is never shown a name or a child-level row."""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import t


def render() -> None:
    lang = session.language()
    user = session.user()
    st.title(t("nav.home", lang))
    st.write(t("home_greeting", lang, name=user.display_name, role=t(f"role.{user.role}", lang)))
    st.info(t(f"home.{user.role}", lang))
