"""Notices and change notifications for caseworkers and supervisors (kodomo/sharing/notices.py, notifications.py).

Tabs: the notices the agency received (not yet acknowledged first, overdue marked, acknowledged here), those it sent
with each receiver's acknowledgement, the change notifications of the children it works with (unread first, marked
read here, each linking to the child's record), for supervisors the notices unacknowledged for more than three
days, and the transfer worklist: children with an open case who moved with no notice sent or acknowledged.
Every list is read (and audited) below the page; a notice or a notification opens the child's record.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import session
from app.i18n import literal, t
from app.services import agencies, operational_store
from app.views.child_record import agency_name, notice_card, request_open, follow_request, when
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.operational import SUPERVISOR
from kodomo.sharing.notices import InvalidNotice, acknowledge, escalations, inbox, sent, transfer_worklist
from kodomo.sharing.notifications import mark_read, notifications_for
from kodomo.settings import get_settings

_ERROR = "notices.error"


def _acknowledge(store, user, ref: str, known) -> None:
    """A button's callback: the receiving agency acknowledges the notice, or why not is kept for the page."""
    try:
        with read_only(get_settings().warehouse_path) as con:
            acknowledge(store, con, user, ref, known)
    except (InvalidNotice, AccessDenied) as refused:
        session.put(_ERROR, str(refused))


def _open_notification(store, user, notification_id: int, person_key: str) -> None:
    mark_read(store, user, [notification_id])
    request_open(person_key)


def _received(store, con, user, known, lang: str) -> None:
    found = inbox(store, con, user, known)
    if not found:
        st.info(t("notices.none_received", lang))
    for notice in found:
        receipt = notice.receipt(user.agency_id)
        with st.container(border=True):
            if receipt.overdue:
                st.warning(t("notices.overdue", lang))
            notice_card(notice, known, lang)
            acknowledged, opened = st.columns(2)
            if receipt.acknowledged_at is None:
                acknowledged.button(t("notices.acknowledge", lang), key=f"notices.ack.{notice.ref}",
                                    on_click=_acknowledge, args=(store, user, notice.ref, known), type="primary")
            opened.button(t("notices.open_record", lang), key=f"notices.open.received.{notice.ref}",
                          on_click=request_open, args=(notice.person_key,))


def _sent(store, con, user, known, lang: str) -> None:
    found = sent(store, con, user, known)
    if not found:
        st.info(t("notices.none_sent", lang))
    for notice in found:
        with st.container(border=True):
            notice_card(notice, known, lang)
            st.button(t("notices.open_record", lang), key=f"notices.open.sent.{notice.ref}",
                      on_click=request_open, args=(notice.person_key,))


def _changes(store, user, known, lang: str) -> None:
    found = sorted(notifications_for(store, user), key=lambda n: n.read)  # unread first, newest first within
    if not found:
        st.info(t("notices.none_changes", lang))
        return
    unread = [n.id for n in found if not n.read]
    if unread:
        st.button(t("notices.mark_all_read", lang), key="notices.read_all", on_click=mark_read,
                  args=(store, user, unread))
    for n in found:
        with st.container(border=True):
            st.markdown(t("notices.change_line", lang, unread="" if n.read else t("notices.unread_mark", lang),
                          change=t(f"notices.change.{n.change}", lang), child=literal(n.person_key[:8]),
                          agency=literal(agency_name(n.source_agency_id, known, lang)), at=when(n.created_at)))
            read, opened = st.columns(2)
            if not n.read:
                read.button(t("notices.mark_read", lang), key=f"notices.read.{n.id}", on_click=mark_read,
                            args=(store, user, [n.id]))
            opened.button(t("notices.open_record", lang), key=f"notices.open.change.{n.id}",
                          on_click=_open_notification, args=(store, user, n.id, n.person_key))


def _escalations(store, con, user, known, lang: str) -> None:
    found = escalations(store, con, user, known)
    if not found:
        st.info(t("notices.none_escalations", lang))
    for notice in found:
        with st.container(border=True):
            late = "、".join(agency_name(r.agency_id, known, lang) for r in notice.recipients if r.overdue)
            st.markdown(t("notices.escalation_line", lang, kind=t(f"notices.kind.{notice.kind}", lang),
                          child=literal(notice.person_key[:8]),
                          sender=literal(agency_name(notice.from_agency_id, known, lang)), receiver=literal(late),
                          at=when(notice.sent_at)))
            notice_card(notice, known, lang)
            st.button(t("notices.open_record", lang), key=f"notices.open.escalated.{notice.ref}",
                      on_click=request_open, args=(notice.person_key,))


def _transfers(store, con, user, known, lang: str) -> None:
    st.caption(t("notices.transfers_help", lang))
    rows = transfer_worklist(store, con, user, known)
    if not rows:
        st.info(t("notices.none_transfers", lang))
        return
    st.dataframe(pd.DataFrame({
        t("notices.col.child", lang): [r.person_key[:8] for r in rows],
        t("notices.col.moved_on", lang): [when(r.move_date) for r in rows],
        t("notices.col.from", lang): [agency_name(r.from_municipality_code, known, lang) for r in rows],
        t("notices.col.to", lang): [agency_name(r.to_municipality_code, known, lang) for r in rows],
        t("notices.col.destination_cgc", lang): [agency_name(r.destination_cgc_id, known, lang) for r in rows],
        t("notices.col.open_cases", lang): [r.open_case_report_count for r in rows],
        t("notices.col.last_report", lang): [agency_name(r.last_report_agency_id, known, lang) for r in rows],
        t("notices.col.notice", lang): [t(f"notices.notice_state.{r.notice}", lang) for r in rows],
    }), hide_index=True, key="notices.transfers")
    labels = {i: f"{r.person_key[:8]} ・ {when(r.move_date)} ・ {agency_name(r.to_municipality_code, known, lang)}"
              for i, r in enumerate(rows)}
    chosen = st.selectbox(t("notices.choose_child", lang), list(labels), format_func=labels.get, index=None,
                          placeholder=t("choose", lang), key="notices.transfer_child")
    if chosen is not None:
        st.button(t("notices.open_record", lang), key="notices.open.transfer", on_click=request_open,
                  args=(rows[chosen].person_key,))


def render(lang: str, user) -> None:
    follow_request()
    st.title(t("notices.title", lang))
    st.caption(t("notices.help", lang))
    error = session.value(_ERROR)
    if error:
        session.put(_ERROR, None)
        st.error(t("notices.ack_failed", lang, reason=error))
    settings = get_settings()
    store, known = operational_store(settings), agencies(settings)
    names = ["received", "sent", "changes", *(["escalations"] if user.role == SUPERVISOR else []), "transfers"]
    try:
        with read_only(settings.warehouse_path) as con:
            tabs = dict(zip(names, st.tabs([t(f"notices.tab.{name}", lang) for name in names])))
            with tabs["received"]:
                _received(store, con, user, known, lang)
            with tabs["sent"]:
                _sent(store, con, user, known, lang)
            with tabs["changes"]:
                _changes(store, user, known, lang)
            if "escalations" in tabs:
                with tabs["escalations"]:
                    _escalations(store, con, user, known, lang)
            with tabs["transfers"]:
                _transfers(store, con, user, known, lang)
    except AccessDenied as refused:
        st.error(t("notices.refused", lang, reason=str(refused)))
    except WarehouseUnavailable:
        st.error(t("notices.unavailable", lang))
