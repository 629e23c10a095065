"""What the parents' pages share (no sign-in): the way in from the sign-in page, the links between the three pages,
a phone-sized layout and the municipality chooser. Nothing here reads staff data: the municipalities are the
agencies' names and codes, which are public."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import streamlit as st

from app.i18n import has, t
from app.navigation import PARENT_PAGES
from app.services import agencies
from kodomo.settings import Settings


JAPAN = ZoneInfo("Asia/Tokyo")


def local_time(at: dt.datetime) -> str:
    """A stored time (UTC; naive from SQLite) as parents and the desk read it, in Japan's time."""
    aware = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
    return f"{aware.astimezone(JAPAN):%Y-%m-%d %H:%M}"


def entrance(lang: str) -> None:
    """On the sign-in page, above the staff's form: where parents go."""
    with st.container(border=True):
        st.subheader(t("onestop.entrance_title", lang))
        st.write(t("onestop.entrance_text", lang))
        for page in PARENT_PAGES:
            st.page_link(page.file, label=_link_label(page.key, lang))


def page_setup(lang: str, current_key: str) -> None:
    """A parent's page: a column as wide as a phone, links to the other parents' pages."""
    st.set_page_config(page_title=t(f"nav.{current_key}", lang), layout="centered")
    with st.container(horizontal=True):
        for page in PARENT_PAGES:
            if page.key != current_key:
                st.page_link(page.file, label=_link_label(page.key, lang))


def _link_label(key: str, lang: str) -> str:
    """A parents' page as a link: what it does, where a text says so, else its title."""
    return t(f"onestop.link.{key}", lang) if has(f"onestop.link.{key}", lang) else t(f"nav.{key}", lang)


def municipalities(current: Settings) -> dict[str, str]:
    """The municipalities whose one-stop desk answers here: code -> name (empty before the first warehouse)."""
    if not current.warehouse_path.exists():
        return {}
    return {a.agency_id: a.name for a in sorted(agencies(current).values(), key=lambda a: a.agency_id)
            if a.agency_type == "municipality"}


def municipality_input(lang: str, current: Settings, key: str) -> str | None:
    """The parent's municipality: chosen from the desks' list, or its 6-digit code typed when there is none."""
    known = municipalities(current)
    if not known:
        return st.text_input(t("onestop.municipality_code", lang), max_chars=6, key=key).strip() or None
    return st.selectbox(t("onestop.municipality", lang), list(known), index=None, key=key,
                        format_func=lambda code: f"{known[code]}（{code}）",
                        placeholder=t("onestop.choose", lang))
