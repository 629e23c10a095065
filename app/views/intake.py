"""Caseworker: one open intake's model probability, reasons, missing information, checklist, and the worker's decision.

Every view of an intake is written to the audit log before anything about it is shown.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from ml.assessment import checklist, what_ifs
from app.i18n import feature_label, literal, t, value_label
from app.services import operational_store, scoring_model, user_id
from kodomo.appdata import intakes
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.operational import (CASEWORKER, VIEW_INTAKE, AccessEntry, WorkerDecision, decision_codes, decisions_for,
                                log_access, record_decision)
from kodomo.settings import get_settings


def percent(p: float) -> str:
    return f"{p:.1%}"


def choose_intake(con, lang: str) -> tuple[str, str] | None:
    """The agency, then one of its open intakes (report, receipt, age; never a name)."""
    agencies = intakes.agencies_with_open_intakes(con)
    names = dict(zip(agencies["agency_id"], agencies["name"], strict=True))
    agency = st.selectbox(t("agency", lang), list(names), format_func=lambda a: f"{a} {names[a]}", index=None,
                          placeholder=t("choose", lang), key="agency")
    if agency is None:
        return None
    queue = intakes.open_intakes(con, agency).set_index("report_id")
    report = st.selectbox(
        t("intake", lang), list(queue.index), index=None, placeholder=t("choose", lang), key=f"intake_{agency}",
        format_func=lambda r: t("intake_label", lang, report_id=r,
                                received=f"{queue.at[r, 'received_at']:%Y-%m-%d}",
                                age=f"{queue.at[r, 'age_years']:.1f}"))
    return None if report is None else (agency, report)


def show_probability(score: intakes.Score, review_threshold: float, lang: str) -> None:
    model = t("model_version", lang, version=score.model_version)
    st.metric(t("probability", lang), percent(score.risk_score))
    st.caption(t("probability_caption", lang, model=model))
    if score.risk_score >= review_threshold:
        st.warning(t("above_threshold", lang, threshold=percent(review_threshold)))
    else:
        st.info(t("below_threshold", lang, threshold=percent(review_threshold)))


def show_reasons(reasons: list[dict], lang: str) -> None:
    st.subheader(t("reasons", lang))
    if not reasons:
        st.write(t("no_reasons", lang))
        return
    st.dataframe(pd.DataFrame({
        t("col_input", lang): [feature_label(r["feature"], lang) for r in reasons],
        t("col_value", lang): [value_label(r["feature"], r["value"], lang) for r in reasons],
        t("col_contribution", lang): [f"{r['contribution']:+.3f}" for r in reasons],
    }), hide_index=True)


def show_missing_information(model, features: pd.DataFrame, lang: str) -> None:
    st.subheader(t("missing_info", lang))
    st.caption(t("missing_info_help", lang))
    table = what_ifs(model, features)
    if table.empty:
        st.write(t("no_missing", lang))
        return
    st.dataframe(pd.DataFrame({
        t("col_item", lang): [feature_label(i, lang) for i in table["item"]],
        t("col_now", lang): [value_label(i, v, lang) for i, v in zip(table["item"], table["now"], strict=True)],
        t("col_if", lang): [value_label(i, v, lang) for i, v in zip(table["item"], table["value"], strict=True)],
        t("col_probability", lang): table["probability"].map(percent),
        t("col_change", lang): (100 * table["change"]).map("{:+.1f}".format),
    }), hide_index=True)


def show_checklist(features: pd.DataFrame, lang: str) -> int:
    st.subheader(t("checklist", lang))
    st.caption(t("checklist_help", lang))
    answers, verdict = checklist(features)
    # The answer first: a long question must not push it out of a narrow column.
    st.dataframe(pd.DataFrame({
        t("col_answer", lang): ["✓" if answered else "—" for answered in answers],
        t("col_question", lang): [t(f"question.{q}", lang) for q in answers.index],
    }), hide_index=True)
    st.markdown(f"**{t('verdict', lang, verdict=t(f'verdict.{verdict}', lang))}**")
    return verdict


@dataclass(frozen=True)
class Shown:
    """What the worker saw of an intake, stored with their decision."""
    agency: str
    report: str
    person_key: str
    score: intakes.Score
    verdict: int


def decision_form(store: Engine, user: str, shown: Shown, recorded: int, lang: str) -> None:
    """The worker's own decision: nothing pre-selected, a rationale required.

    The form's keys count the decisions already recorded, so that after one is saved the next run shows an
    empty form, while a refused submission keeps what the worker typed.
    """
    st.subheader(t("decision_header", lang))
    st.caption(t("decision_help", lang))
    # Keyed by intake too: a choice made on one intake must never carry over to the next.
    form = f"{shown.agency}_{shown.report}_{recorded}"
    with st.form(f"form_{form}"):
        decision = st.radio(t("decision", lang), decision_codes(), index=None, key=f"decision_{form}",
                            format_func=lambda code: t(f"decision.{code}", lang))
        rationale = st.text_area(t("rationale", lang), key=f"rationale_{form}")
        st.caption(t("recorded_by", lang, user=literal(user)))
        if not st.form_submit_button(t("submit", lang)):
            return
    if decision is None:
        st.error(t("decision_missing", lang))
    elif not rationale.strip():
        st.error(t("rationale_missing", lang))
    else:
        record_decision(store, WorkerDecision(
            shown.agency, shown.report, shown.person_key, user, decision, rationale, shown.score.risk_score,
            shown.score.model_version, shown.verdict))
        st.success(t("decision_saved", lang, probability=percent(shown.score.risk_score),
                     version=shown.score.model_version))


def show_decisions(recorded: list[dict], lang: str) -> None:
    if not recorded:
        return
    st.subheader(t("previous_decisions", lang))
    st.dataframe(pd.DataFrame({
        t("col_decided_at", lang): [f"{d['decided_at']:%Y-%m-%d %H:%M}" for d in recorded],
        t("col_worker", lang): [d["worker_id"] for d in recorded],
        t("col_decision", lang): [t(f"decision.{d['decision']}", lang) for d in recorded],
        t("col_rationale", lang): [d["rationale"] for d in recorded],
        t("col_probability_shown", lang): [percent(d["risk_score_shown"]) for d in recorded],
        t("col_model_version", lang): [d["model_version"] for d in recorded],
    }), hide_index=True)


def render(lang: str) -> None:
    st.title(t("page_intake", lang))
    user = user_id()
    if not user:
        st.info(t("user_id_needed", lang))
        return
    current = get_settings()  # read on every run: the environment is the configuration
    if not current.warehouse_path.exists():
        st.info(t("no_warehouse", lang))
        return
    try:
        with read_only(current.warehouse_path) as con:
            if not intakes.has_scores(con):
                st.info(t("no_warehouse", lang))
                return
            chosen = choose_intake(con, lang)
            if chosen is None:
                return
            agency, report = chosen
            features, score = intakes.intake(con, agency, report)
    except WarehouseUnavailable:
        st.error(t("warehouse_unavailable", lang))
        return
    person_key = str(features["person_key"].iloc[0])
    store = operational_store(current)
    # Audit first: if the log cannot be written, the intake is not shown.
    log_access(store, AccessEntry(user, CASEWORKER, VIEW_INTAKE, agency, report, person_key))
    model = scoring_model(current, score.model_version)
    received, age = features["received_at"].iloc[0], features["age_years"].iloc[0]
    st.header(t("intake_header", lang, report_id=literal(report), agency_id=literal(agency)))
    st.write(f"{t('received_at', lang)}: {received:%Y-%m-%d %H:%M} ・ "
             f"{t('age', lang)}: {t('age_value', lang, age=f'{age:.1f}')}")
    model_side, checklist_side = st.columns([3, 2])
    with model_side:
        show_probability(score, model.review_threshold, lang)
        show_reasons(score.top_reasons, lang)
        show_missing_information(model, features, lang)
    with checklist_side:
        verdict = show_checklist(features, lang)
    shown = Shown(agency, report, person_key, score, verdict)
    decision_form(store, user, shown, len(decisions_for(store, agency, report)), lang)
    show_decisions(decisions_for(store, agency, report), lang)

