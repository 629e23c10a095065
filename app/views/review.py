"""Supervisor: decisions against the band or the official sheet, to confirm or to return with a comment."""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import literal, t
from app.services import agencies, operational_store
from kodomo.appdata.access import AccessDenied
from kodomo.intake_entries import review, review_queue
from kodomo.settings import get_settings

_QUEUE = "review.queue"


def _review(store, user, known, decision_id: int, outcome: str) -> None:
    """A button's callback: the outcome recorded, or why not kept for the page."""
    comment = session.value(f"review.comment.{decision_id}") or ""
    try:
        review(store, user, decision_id, outcome, comment, known)
    except (ValueError, LookupError, AccessDenied) as refused:
        session.put(f"review.error.{decision_id}", str(refused))
        return
    session.put(_QUEUE, None)  # read (and audited) again


def render() -> None:
    lang = session.language()
    user = session.user()
    st.title(t("nav.review", lang))
    st.caption(t("review_help", lang))
    current = get_settings()
    store, known = operational_store(current), agencies(current)
    if session.value(_QUEUE) is None:  # audited once per visit, not per rerun
        try:
            session.put(_QUEUE, review_queue(store, user, known))
        except AccessDenied as refused:
            st.error(t("refused", lang, reason=str(refused)))
            return
    items = session.value(_QUEUE)
    if not items:
        st.info(t("no_reviews", lang))
        return
    for item in items:
        with st.container(border=True):
            st.markdown(t("review_item", lang, report=literal(item.report_id),
                          agency=literal(known[item.agency_id].name if item.agency_id in known else item.agency_id),
                          worker=literal(item.worker_id), at=f"{item.decided_at:%Y-%m-%d %H:%M}",
                          disposition=t(f"disposition.{item.disposition}", lang) if item.disposition
                          else t(f"decision.{item.decision}", lang),
                          probability="—" if item.risk_score_shown is None else f"{item.risk_score_shown:.1%}",
                          band=t(f"band.{item.band}", lang) if item.band else "—",
                          verdict=t(f"verdict.{item.checklist_verdict}", lang)
                          if item.checklist_verdict is not None else "—",
                          reasons="、".join(t(f"review_reason.{r}", lang) for r in item.reasons)))
            st.markdown(f"> {literal(item.rationale)}")
            st.text_area(t("review_comment", lang), key=f"review.comment.{item.decision_id}")
            error = session.value(f"review.error.{item.decision_id}")
            if error:
                st.error(t("refused", lang, reason=error))
                session.put(f"review.error.{item.decision_id}", None)
            left, right = st.columns(2)
            left.button(t("confirm", lang), key=f"review.confirm.{item.decision_id}", on_click=_review,
                        args=(store, user, known, item.decision_id, "confirmed"))
            right.button(t("return", lang), key=f"review.return.{item.decision_id}", on_click=_review,
                         args=(store, user, known, item.decision_id, "returned"))
