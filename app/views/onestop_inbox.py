"""Family support staff: the one-stop desk's inbox. The consultations routed to a department (or to any), one
opened at a time as one thread: the parent's messages, every department's replies and what each department did;
a reply goes to the parent, a record of what was done stays with the departments. Every read and write is
audited by ``kodomo.onestop.consultations``, which also refuses other roles and other municipalities."""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import literal, t
from app.services import operational_store
from app.views.onestop_parents import local_time
from kodomo.appdata.access import AccessDenied
from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.onestop.consultations import (ACTION, DEPARTMENTS, Consultation, ConsultationError,
                                          consultation_for_staff, inbox, record_action, staff_reply)
from kodomo.operational import OPEN, PARENT
from kodomo.settings import get_settings

_INBOX, _RECORD, _NOTICE = "onestop.inbox.items", "onestop.inbox.record", "onestop.inbox.notice"
_DEPARTMENT, _ALL = "onestop.inbox.department", "onestop.inbox.all"


def _department_label(department: str, lang: str) -> str:
    return t(f"onestop.department.{department}", lang)


def _open(consultation_id: int) -> None:
    """A button's callback: the consultation read (and audited) once, for the page."""
    store, user = operational_store(get_settings()), session.user()
    try:
        session.put(_RECORD, consultation_for_staff(store, user, consultation_id))
    except AccessDenied as refused:
        session.put(_NOTICE, str(refused))


def _write(consultation_id: int, kind: str) -> None:
    """A button's callback: the reply or the record of what was done, then the thread and the inbox read again."""
    store, user = operational_store(get_settings()), session.user()
    department = session.value(_DEPARTMENT)
    text_key = f"onestop.inbox.{kind}.{consultation_id}"
    text = session.value(text_key) or ""
    try:
        if kind == "reply":
            staff_reply(store, user, consultation_id, department, text)
        else:
            record_action(store, user, consultation_id, department, text,
                          close=bool(session.value(f"onestop.inbox.close.{consultation_id}")))
    except (ConsultationError, AccessDenied) as refused:
        session.put(_NOTICE, str(refused))
        return
    session.forget(text_key, f"onestop.inbox.close.{consultation_id}")
    session.put(_INBOX, None)
    _open(consultation_id)


def _record(record: Consultation, lang: str) -> None:
    with st.container(border=True):
        st.subheader(t("onestop.inbox_record", lang, number=record.id))
        st.markdown(t("onestop.inbox_record_about", lang, at=local_time(record.created_at),
                      departments="、".join(_department_label(d, lang) for d in record.departments),
                      contact=t(f"onestop.contact.{record.contact}", lang),
                      status=t(f"onestop.status.{record.status}", lang)))
        if record.programmes:
            st.markdown(t("onestop.inbox_programmes", lang,
                          programmes="、".join(PROGRAMMES[p] for p in record.programmes)))
        st.markdown(f"**{t('onestop.thread_needs', lang)}**")
        st.text(record.needs)
        if not record.thread:
            st.info(t("onestop.inbox_no_entries", lang))
        for entry in record.thread:
            who = t("onestop.parent", lang) if entry.sender == PARENT else _department_label(entry.department, lang)
            what = t("onestop.inbox_action", lang) if entry.kind == ACTION else t("onestop.inbox_message", lang)
            with st.chat_message("user" if entry.sender == PARENT else "assistant"):
                st.caption(f"{who} · {what} · {local_time(entry.at)}")
                st.markdown(literal(entry.text))
        if record.status != OPEN:
            st.info(t("onestop.thread_closed_staff", lang))
            return
        department = _department_label(session.value(_DEPARTMENT), lang)
        st.text_area(t("onestop.inbox_reply", lang, department=department), key=f"onestop.inbox.reply.{record.id}")
        st.button(t("onestop.inbox_send", lang), key=f"onestop.inbox.send.{record.id}", on_click=_write,
                  args=(record.id, "reply"))
        st.text_area(t("onestop.inbox_done", lang, department=department), key=f"onestop.inbox.action.{record.id}",
                     help=t("onestop.inbox_done_help", lang))
        st.checkbox(t("onestop.inbox_close", lang), key=f"onestop.inbox.close.{record.id}")
        st.button(t("onestop.inbox_record_action", lang), key=f"onestop.inbox.record_action.{record.id}",
                  on_click=_write, args=(record.id, "action"))


def render() -> None:
    lang = session.language()
    user = session.user()
    st.title(t("nav.onestop_inbox", lang))
    st.caption(t("onestop.inbox_help", lang))
    store = operational_store(get_settings())
    department = st.selectbox(t("onestop.department", lang), DEPARTMENTS, key=_DEPARTMENT,
                              format_func=lambda d: _department_label(d, lang))
    every = st.toggle(t("onestop.inbox_all", lang), key=_ALL)
    wanted = None if every else department
    kept = session.value(_INBOX)
    if kept is None or kept[0] != wanted:  # audited once per choice, not per rerun
        try:
            session.put(_INBOX, (wanted, inbox(store, user, wanted)))
        except AccessDenied as refused:
            st.error(t("refused", lang, reason=str(refused)))
            return
    notice = session.value(_NOTICE)
    if notice:
        st.error(t("refused", lang, reason=notice))
        session.put(_NOTICE, None)
    record: Consultation | None = session.value(_RECORD)
    if record is not None:
        _record(record, lang)
        st.button(t("onestop.inbox_close_record", lang), key="onestop.inbox.back", on_click=session.put,
                  args=(_RECORD, None))
    items = session.value(_INBOX)[1]
    st.subheader(t("onestop.inbox_list", lang, count=len(items)))
    if not items:
        st.info(t("onestop.inbox_empty", lang))
    for item in items:
        with st.container(border=True):
            st.markdown(t("onestop.inbox_item", lang, number=item.id, at=local_time(item.created_at),
                          last=local_time(item.last_entry_at),
                          departments="、".join(_department_label(d, lang) for d in item.departments),
                          programmes="、".join(PROGRAMMES[p] for p in item.programmes) or "—",
                          contact=t(f"onestop.contact.{item.contact}", lang),
                          status=t(f"onestop.status.{item.status}", lang)))
            st.button(t("onestop.inbox_open", lang), key=f"onestop.inbox.open.{item.id}", on_click=_open,
                      args=(item.id,))
