"""Parents: come back with the consultation code (evenings, on a phone), read the desk's replies and write back.
The code opens exactly its own thread; wrong codes lock the session for growing waits (``consultations.try_code``),
each one audited. The code is kept in the browser session only, until the parent closes the thread."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from app import session
from app.i18n import literal, t
from app.services import operational_store
from app.views import onestop_parents
from app.views.onestop_parents import local_time
from kodomo.onestop.consultations import (CodeAttempts, CodeNotValid, Consultation, ConsultationError,
                                          parent_reply, thread_for_code, try_code)
from kodomo.operational import PARENT
from kodomo.settings import get_settings

PAGE = "onestop_code"
_CODE, _THREAD, _ATTEMPTS = "onestop.code.current", "onestop.code.thread", "onestop.code.attempts"
_NOTICE = "onestop.code.notice"


def remember_code(code: str) -> None:
    """The code just given by the hand-over: the code page opens its thread without typing it."""
    session.put(_CODE, code)
    session.put(_THREAD, None)


def _forget() -> None:
    session.put(_CODE, None)
    session.put(_THREAD, None)
    session.forget("onestop.code.reply", "onestop.code.typed")


def _seconds(span: dt.timedelta) -> int:
    return -int(-span.total_seconds() // 1)


def _typed(lang: str) -> None:
    """The code form; a right code opens the thread, a wrong one says so (and how long to wait, once locked)."""
    with st.form("onestop.code.form"):
        typed = st.text_input(t("onestop.code_label", lang), max_chars=24, key="onestop.code.typed",
                              placeholder="ABCDE-23456")
        submitted = st.form_submit_button(t("onestop.code_open", lang), type="primary")
    if not submitted:
        return
    current = get_settings()
    attempts: CodeAttempts = session.value(_ATTEMPTS) or CodeAttempts()
    now = dt.datetime.now(dt.UTC)
    was_locked = bool(attempts.locked_for(now))
    outcome = try_code(operational_store(current), current, typed, attempts, now)
    session.put(_ATTEMPTS, outcome.attempts)
    if outcome.consultation is not None:
        session.put(_CODE, typed)
        session.put(_THREAD, outcome.consultation)
        return
    if not was_locked:
        st.error(t("onestop.code_wrong", lang))
    if outcome.retry_after is not None:
        st.warning(t("onestop.code_locked", lang, seconds=_seconds(outcome.retry_after)))


def _reply(code: str) -> None:
    """The send button's callback: the message added, the thread read again; or why not, for the page."""
    current = get_settings()
    text = session.value("onestop.code.reply") or ""
    try:
        parent_reply(operational_store(current), current, code, text)
    except CodeNotValid:
        _forget()
        session.put(_NOTICE, "expired")
        return
    except ConsultationError as refused:
        session.put(_NOTICE, str(refused))
        return
    session.forget("onestop.code.reply")
    session.put(_THREAD, None)


def _thread(code: str, lang: str) -> Consultation | None:
    """The thread of the session's code, read once per change (each read is audited)."""
    thread = session.value(_THREAD)
    if thread is None:
        current = get_settings()
        try:
            thread = thread_for_code(operational_store(current), current, code)
        except CodeNotValid:
            _forget()
            st.warning(t("onestop.code_expired", lang))
            return None
        session.put(_THREAD, thread)
    return thread


def _show(thread: Consultation, code: str, lang: str) -> None:
    st.caption(t("onestop.thread_about", lang, number=thread.id, at=local_time(thread.created_at)[:10],
                 status=t(f"onestop.status.{thread.status}", lang)))
    with st.expander(t("onestop.thread_needs", lang)):
        st.text(thread.needs)
    if not thread.thread:
        st.info(t("onestop.thread_empty", lang))
    for entry in thread.thread:
        mine = entry.sender == PARENT
        with st.chat_message("user" if mine else "assistant"):
            who = t("onestop.you", lang) if mine else t(f"onestop.department.{entry.department}", lang)
            st.caption(f"{who} · {local_time(entry.at)}")
            st.markdown(literal(entry.text))
    notice = session.value(_NOTICE)
    if notice:
        st.error(t("onestop.reply_refused", lang, reason=notice))
        session.put(_NOTICE, None)
    if thread.status == "open":
        st.text_area(t("onestop.reply", lang), key="onestop.code.reply", max_chars=2000)
        st.button(t("onestop.send", lang), key="onestop.code.send", type="primary", on_click=_reply, args=(code,))
    else:
        st.info(t("onestop.thread_closed", lang))
    with st.container(horizontal=True):
        st.button(t("onestop.refresh", lang), key="onestop.code.refresh", on_click=session.put, args=(_THREAD, None))
        st.button(t("onestop.close_thread", lang), key="onestop.code.close", on_click=_forget)


def render() -> None:
    lang = session.language()
    onestop_parents.page_setup(lang, PAGE)
    st.title(t(f"nav.{PAGE}", lang))
    if session.value(_NOTICE) == "expired":
        st.warning(t("onestop.code_expired", lang))
        session.put(_NOTICE, None)
    code = session.value(_CODE)
    if code is None:
        st.caption(t("onestop.code_help", lang))
        _typed(lang)
        code = session.value(_CODE)
    if code is None:
        return
    thread = _thread(code, lang)
    if thread is not None:
        _show(thread, code, lang)
