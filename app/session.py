"""The only reader and writer of ``st.session_state``: the language, the signed-in session, the opened intake and
what a worker has typed, kept under stable keys so that a language switch or a page change loses nothing."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from app.i18n import DEFAULT_LANGUAGE, LANGUAGES
from kodomo.appdata.access import Grant
from kodomo.appdata.accounts import Account, Session, SessionExpired

LANGUAGE_KEY = "language"
_SESSION, _EXPIRED, _OPENED, _CURRENT = "signed_in", "expired_notice", "opened_intakes", "current_intake"
_KEPT = "kept."  # prefix of the copies of typed values that outlive their widgets
_IN_LANGUAGE = "@"  # a choice widget's key in one language: <key>@<language> (keep_choice)


def language() -> str:
    return st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start(account: Account) -> None:
    st.session_state[_SESSION] = Session.start(account, _now())
    st.session_state.pop(_EXPIRED, None)


def user() -> Account | None:
    """The signed-in account, touched now; None (and a notice for the sign-in page) when idle too long."""
    session: Session | None = st.session_state.get(_SESSION)
    if session is None:
        return None
    try:
        st.session_state[_SESSION] = session.touched(_now())
    except SessionExpired:
        sign_out()
        st.session_state[_EXPIRED] = True
        return None
    return session.account


def expired_notice() -> bool:
    return bool(st.session_state.get(_EXPIRED))


def sign_out() -> None:
    """Forget everything of the session but the language."""
    kept_language = language()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[LANGUAGE_KEY] = kept_language


@dataclass(frozen=True)
class OpenedIntake:
    """An intake the worker opened (its audit row is written once, when opened): fed from the feeds or entered."""
    agency_id: str
    report_id: str
    entered: bool
    grant: Grant | None = None


def open_intake(opened: OpenedIntake) -> None:
    st.session_state.setdefault(_OPENED, {})[(opened.agency_id, opened.report_id)] = opened
    st.session_state[_CURRENT] = (opened.agency_id, opened.report_id)


def current_intake() -> OpenedIntake | None:
    key = st.session_state.get(_CURRENT)
    return None if key is None else st.session_state.get(_OPENED, {}).get(key)


def already_opened(agency_id: str, report_id: str) -> OpenedIntake | None:
    return st.session_state.get(_OPENED, {}).get((agency_id, report_id))


def keep(widget_key: str) -> str:
    """The key of a widget whose value must outlive it (a page change removes a widget's state): restores the
    value the worker typed before the widget is drawn. Call ``remember`` after drawing it."""
    kept = st.session_state.get(_KEPT + widget_key)
    if widget_key not in st.session_state and kept is not None:
        st.session_state[widget_key] = kept
    return widget_key


def keep_choice(widget_key: str) -> str:
    """``keep`` for a choice widget (radio, select box, multiselect) whose options are shown in the page's language.

    Streamlit's front end keeps a keyed widget whose options' text changed and then shows nothing chosen, though the
    value stands: after a language switch the worker would see blank answers. So the widget is keyed per language
    (``<key>@<language>``) and its value carried over from the other language's; ``remember``, ``value`` and
    ``forget`` take the plain key."""
    keyed = _in_language(widget_key)
    kept = st.session_state.get(_KEPT + widget_key)
    if keyed not in st.session_state and kept is not None:
        st.session_state[keyed] = kept
    return keyed


def _in_language(widget_key: str, lang: str | None = None) -> str:
    return f"{widget_key}{_IN_LANGUAGE}{lang or language()}"


def _plain(key: str) -> str:
    return key.rsplit(_IN_LANGUAGE, 1)[0]


def remember(*widget_keys: str) -> None:
    for key in widget_keys:
        current = key if key in st.session_state else _in_language(_plain(key))
        if current in st.session_state:
            st.session_state[_KEPT + _plain(key)] = st.session_state[current]


def forget(*widget_keys: str) -> None:
    """After a save: the next form starts empty."""
    for key in map(_plain, widget_keys):
        for name in (_KEPT + key, key, *(_in_language(key, lang) for lang in LANGUAGES)):
            st.session_state.pop(name, None)


def value(key: str, default=None):
    """A stored value, or a widget's (a choice widget's by its plain key, in the page's language)."""
    if key not in st.session_state and _in_language(key) in st.session_state:
        return st.session_state[_in_language(key)]
    return st.session_state.get(key, default)


def put(key: str, stored) -> None:
    st.session_state[key] = stored
