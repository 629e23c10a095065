"""One opened intake (caseworker, supervisor): the report, the answers, the history, the model beside the official
checklist, and the worker's decision. The intake was audited once, when it was opened from the work queue."""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import t
from app.services import agencies, champion, operational_store, scoring_model
from app.views.assessment import Scored, show_answers, show_assessment, show_history, show_report
from app.views.decision import Shown, decision_form
from kodomo.appdata import intakes
from kodomo.appdata.access import load_holdings
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.settings import get_settings


def scored_as_stored(current, score: intakes.Score) -> Scored:
    """The stored probability with what explains it: the model version that produced it and, when that is today's
    champion, its interval, band and base rate."""
    known = champion(current)
    model = scoring_model(current, score.model_version)
    p = score.risk_score
    if known is not None and known.version == score.model_version:
        return Scored(p, known.interval(p), known.band(p), known.base_rate, model, score.model_version)
    return Scored(p, None, "high" if p >= model.review_threshold else "not_high", None, model, score.model_version)


def render() -> None:
    lang = session.language()
    user = session.user()
    opened = session.current_intake()
    st.title(t("nav.intake", lang))
    if opened is None:
        st.info(t("no_intake_open", lang))
        st.page_link("routes/queue.py", label=t("nav.queue", lang))
        return
    if opened.entered:
        from app.views.entry import show_entered  # the entry page renders the intakes entered in the app
        show_entered(user, opened.agency_id, opened.report_id, lang)
        return
    current = get_settings()
    try:
        with read_only(current.warehouse_path) as con:
            features, score = intakes.intake(con, opened.agency_id, opened.report_id)
            confirmed_at = intakes.safety_confirmed_at(con, opened.agency_id, opened.report_id)
            person_key = str(features["person_key"].iloc[0])
            holdings = load_holdings(con, person_key)
    except WarehouseUnavailable:
        st.error(t("warehouse_unavailable", lang))
        return
    known = agencies(current)
    if opened.grant is not None and opened.grant.purpose:
        st.warning(t("opened_with_purpose", lang, purpose=opened.grant.purpose))
    show_report(features, known.get(opened.agency_id), opened.report_id, confirmed_at, lang)
    show_answers(features, lang)
    show_history(features, holdings, known, lang)
    scored = scored_as_stored(current, score)
    verdict = show_assessment(features, scored, None, lang)
    shown = Shown(opened.agency_id, opened.report_id, person_key, scored.probability, scored.model_version,
                  scored.band if scored.band in ("low", "medium", "high") else None, verdict)
    decision_form(operational_store(current), user, shown, known, lang)
