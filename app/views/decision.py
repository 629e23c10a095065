"""The worker's own decision on an intake: a disposition staff record and a rationale, nothing pre-selected; an
amendment is a new row; a decision against the band or the checklist goes to the supervisor's review queue."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from app import session
from app.i18n import has, literal, t
from kodomo.appdata.access import AccessDenied, Agency, load_holdings
from kodomo.appdata.accounts import Account
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.intake_entries import DISPOSITIONS, decision_history, record_decision, review_reasons, worker_decision_of
from kodomo.operational import WorkerDecision
from kodomo.settings import get_settings
from kodomo.sharing.case_records import case_record_holdings


@dataclass(frozen=True)
class Shown:
    """What the worker saw of an intake, stored with their decision."""
    agency_id: str
    report_id: str
    person_key: str | None
    probability: float | None
    model_version: str | None
    band: str | None
    verdict: int


def _label(prefix: str, code) -> str:
    key = f"{prefix}.{code}"
    return t(key, session.language()) if has(key) else str(code)


def show_history(history: list[dict], lang: str) -> None:
    if not history:
        return
    st.subheader(t("previous_decisions", lang))
    st.dataframe(pd.DataFrame({
        t("col_decided_at", lang): [f"{d['decided_at']:%Y-%m-%d %H:%M}" for d in history],
        t("col_worker", lang): [d["worker_id"] for d in history],
        t("col_decision", lang): [_label("disposition", d.get("disposition") or d["decision"]) for d in history],
        t("col_rationale", lang): [d["rationale"] for d in history],
        t("col_probability_shown", lang): ["—" if d["risk_score_shown"] is None else f"{d['risk_score_shown']:.1%}"
                                           for d in history],
        t("col_amends", lang): ["" if d.get("amends") is None else f"#{d['amends']}" for d in history],
        t("col_review", lang): [_label("review_status", d["review"] or "none") for d in history],
        t("col_review_comment", lang): [d["comment"] or "" for d in history],
    }), hide_index=True, key="decision_history")


def decision_form(store: Engine, user: Account, shown: Shown, agencies: Mapping[str, Agency], lang: str) -> None:
    """The form; below it the intake's decisions with their review status."""
    history = decision_history(store, shown.agency_id, shown.report_id)
    st.subheader(t("decision_header", lang))
    st.caption(t("decision_help", lang))
    # Keyed by intake and by the decisions recorded: after a save the next form is empty, while a refused save (or
    # a language switch, or a visit to another page) keeps what the worker typed.
    form = f"decision.{shown.agency_id}.{shown.report_id}.{len(history)}"
    disposition_key = session.keep_choice(f"{form}.disposition")
    rationale_key = session.keep(f"{form}.rationale")
    # Plain widgets, not a form: what is typed is kept at once, through a language switch or a page change.
    with st.container(border=True):
        disposition = st.radio(t("disposition", lang), DISPOSITIONS, index=None, key=disposition_key,
                               format_func=lambda code: t(f"disposition.{code}", lang))
        rationale = st.text_area(t("rationale", lang), key=rationale_key)
        if history:
            st.caption(t("amends_note", lang, id=history[-1]["id"]))
        st.caption(t("recorded_by", lang, user=literal(user.display_name)))
        submitted = st.button(t("submit", lang), key=f"{form}.submit")
    session.remember(disposition_key, rationale_key)
    if submitted:
        _save(store, user, shown, agencies, history, disposition, rationale, lang)
    show_history(decision_history(store, shown.agency_id, shown.report_id), lang)


def _holders(store: Engine, person_key: str | None) -> list[str]:
    """The agencies told of the decision: those holding the child in the warehouse and those keeping a case record
    of it (a child the platform does not know yet is held by nobody else)."""
    if person_key is None:
        return []
    try:
        with read_only(get_settings().warehouse_path) as con:
            held = [h.agency_id for h in load_holdings(con, person_key)]
    except WarehouseUnavailable:
        held = []
    return sorted({*held, *(h.agency_id for h in case_record_holdings(store, person_key))})


def _save(store: Engine, user: Account, shown: Shown, agencies: Mapping[str, Agency], history: list[dict],
          disposition: str | None, rationale: str, lang: str) -> None:
    if disposition is None:
        st.error(t("decision_missing", lang))
        return
    if not rationale.strip():
        st.error(t("rationale_missing", lang))
        return
    decision = WorkerDecision(
        shown.agency_id, shown.report_id, shown.person_key, user.user_id, worker_decision_of(disposition), rationale,
        shown.probability, shown.model_version, shown.verdict, disposition=disposition,
        amends=history[-1]["id"] if history else None, band=shown.band)
    try:
        record_decision(store, user, decision, shown.band, agencies, holders=_holders(store, shown.person_key))
    except AccessDenied as refused:
        st.error(t("refused", lang, reason=str(refused)))
        return
    reasons = review_reasons(decision.decision, shown.band, shown.verdict)
    st.success(t("decision_saved", lang))
    if reasons:
        st.warning(t("goes_to_review", lang, reasons="、".join(_label("review_reason", r) for r in reasons)))
