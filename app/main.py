"""The app's entry point (``streamlit run app/main.py``): language, user, the synthetic-data banner, the page."""
import streamlit as st

from app.i18n import LANGUAGES, t
from app.services import LANGUAGE_KEY, PAGE_KEY, USER_KEY, language
from app.views import intake, model

LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
PAGES = {"intake": intake.render, "model": model.render}

st.set_page_config(page_title=t("app_title", language()), layout="wide")
# Widgets whose labels do not change with the language: a widget whose label changes loses its value.
st.sidebar.radio("言語 / Language", LANGUAGES, format_func=LANGUAGE_NAMES.get, key=LANGUAGE_KEY, horizontal=True)
lang = language()
page = st.sidebar.radio(t("page", lang), list(PAGES), format_func=lambda p: t(f"page_{p}", lang), key=PAGE_KEY)
st.sidebar.text_input("利用者ID / User ID", key=USER_KEY)
st.warning(t("synthetic_banner", lang), icon="⚠️")
PAGES[page](lang)
