"""The only reader and writer of ``st.session_state``: the language, the signed-in session, the opened intake and
what a worker has typed, kept under stable keys so that a language switch or a page change loses nothing."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from app.i18n import DEFAULT_LANGUAGE
from kodomo.appdata.access import Grant
from kodomo.appdata.accounts import Account, Session, SessionExpired

LANGUAGE_KEY = "language"
_SESSION, _EXPIRED, _OPENED, _CURRENT = "signed_in", "expired_notice", "opened_intakes", "current_intake"
_KEPT = "kept."  # prefix of the copies of typed values that outlive their widgets


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


def remember(*widget_keys: str) -> None:
    for key in widget_keys:
        if key in st.session_state:
            st.session_state[_KEPT + key] = st.session_state[key]


def forget(*widget_keys: str) -> None:
    """After a save: the next form starts empty."""
    for key in widget_keys:
        st.session_state.pop(_KEPT + key, None)
        st.session_state.pop(key, None)


def value(key: str, default=None):
    return st.session_state.get(key, default)


def put(key: str, stored) -> None:
    st.session_state[key] = stored
