"""A new intake, entered and scored in the app (caseworker, supervisor): the report and every assessment item,
checked by the contracts (each bad value gets its message at its field; nothing is saved half); on save the child
is identified for the worker to confirm, and the intake is shown as a fed one is, then the decision form."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import session
from app.i18n import feature_label, literal, t, value_label
from app.presentation import ITEM_GROUPS
from app.services import agencies, champion, operational_store
from app.views.assessment import Scored, show_answers, show_assessment, show_history
from app.views.decision import Shown, decision_form
from kodomo.appdata.access import AccessDenied, load_holdings
from kodomo.appdata.accounts import Account
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.contracts import contract
from kodomo.linkage.identify import new_person_key
from kodomo.intake_entries import (FORM_FIELDS, EntryInvalid, StaleEdit, StoredIntake, check_entry, confirm_child,
                                   enter_intake, stored_intake)
from kodomo.settings import get_settings
from ml.features import assessment_items
from ml.live_scoring import assess_entry

ERRORS, SAVED = "entry.errors", "entry.saved"
RECEIVED_DATE, RECEIVED_TIME = "entry.received_date", "entry.received_time"
_NEW_CHILD = "new"


def _key(field: str) -> str:
    return f"entry.{field}"


def _widget_keys() -> list[str]:
    return [RECEIVED_DATE, RECEIVED_TIME, *(_key(f) for f in FORM_FIELDS if f != "received_at"),
            *(_key(c.name) for c in assessment_items())]


def _raw() -> dict:
    """The form's values as check_entry takes them (an item not answered is left out: unknown)."""
    date, time = session.value(RECEIVED_DATE), session.value(RECEIVED_TIME)
    raw = {"received_at": dt.datetime.combine(date, time) if date and time else None}
    for field in FORM_FIELDS:
        if field != "received_at":
            raw[field] = session.value(_key(field))
    raw.update({c.name: session.value(_key(c.name)) for c in assessment_items()
                if session.value(_key(c.name)) is not None})
    return raw


def _save(user: Account) -> None:
    """The save button's callback: check, store, assess; the errors or the saved intake kept for the page."""
    current = get_settings()
    known = agencies(current)
    try:
        entry = check_entry(user.agency_id, _raw(), known)
        stored = enter_intake(operational_store(current), user, entry, known)
    except EntryInvalid as invalid:
        session.put(ERRORS, invalid.errors)
        return
    except AccessDenied as refused:
        session.put(ERRORS, {"agency_id": str(refused)})
        return
    session.put(ERRORS, {})
    session.put(SAVED, (stored.agency_id, stored.report_id))
    session.put(_stored_key(stored.agency_id, stored.report_id), stored)
    session.forget(*_widget_keys())


def _error_at(field: str, lang: str) -> None:
    errors = session.value(ERRORS) or {}
    if field in errors:
        st.error(t("field_error", lang, message=errors[field]))


def _form(user: Account, lang: str) -> None:
    st.subheader(t("group.report", lang))
    left, right = st.columns(2)
    with left:
        st.date_input(t("received_date", lang), value=None, key=session.keep(RECEIVED_DATE), format="YYYY-MM-DD")
        st.time_input(t("received_time", lang), value=None, key=session.keep(RECEIVED_TIME))
        _error_at("received_at", lang)
        routes = contract("case_reports").column("route").codes
        st.selectbox(t("route_label", lang), routes, index=None, key=session.keep_choice(_key("route")),
                     format_func=lambda c: t(f"route.{c}", lang), placeholder=t("choose", lang))
        _error_at("route", lang)
        st.multiselect(t("abuse_types_label", lang), contract("case_reports").column("abuse_types").codes,
                       key=session.keep_choice(_key("abuse_types")), format_func=lambda c: t(f"abuse.{c}", lang))
        _error_at("abuse_types", lang)
    with right:
        st.text_input(t("child_name", lang), key=session.keep(_key("child_name")))
        _error_at("child_name", lang)
        st.text_input(t("child_kana", lang), key=session.keep(_key("child_kana")))
        _error_at("child_kana", lang)
        st.date_input(t("birth_date", lang), value=None, key=session.keep(_key("birth_date")), format="YYYY-MM-DD",
                      min_value=dt.date(1990, 1, 1), max_value=dt.date.today())
        _error_at("birth_date", lang)
        st.radio(t("sex", lang), contract("case_reports").column("sex").codes, index=None, horizontal=True,
                 key=session.keep_choice(_key("sex")), format_func=lambda c: t(f"sex.{c}", lang))
        _error_at("sex", lang)
        st.text_input(t("address_code", lang), key=session.keep(_key("address_municipality_code")),
                      help=t("address_code_help", lang))
        _error_at("address_municipality_code", lang)
    codes = {c.name: c.codes for c in assessment_items()}
    st.caption(t("items_help", lang))
    for group, items in ITEM_GROUPS.items():
        st.subheader(t(f"group.{group}", lang))
        columns = st.columns(2)
        for i, item in enumerate(items):
            with columns[i % 2]:
                st.radio(feature_label(item, lang), codes[item], index=None, horizontal=True,
                         key=session.keep_choice(_key(item)), format_func=lambda c, it=item: value_label(it, c, lang))
                _error_at(item, lang)
    session.remember(*_widget_keys())
    _error_at("agency_id", lang)
    if session.value(ERRORS):
        st.error(t("entry_not_saved", lang, n=len(session.value(ERRORS))))
    st.button(t("save_intake", lang), key="entry.save", type="primary", on_click=_save, args=(user,))


def _stored_key(agency_id: str, report_id: str) -> str:
    return f"entered.{agency_id}.{report_id}"


def _assessment_key(stored: StoredIntake) -> str:
    return f"assessed.{stored.agency_id}.{stored.report_id}.{stored.version}"


def _show_candidates(user: Account, stored: StoredIntake, assessment, lang: str) -> None:
    st.subheader(t("identify_header", lang))
    if stored.match is not None:
        st.success(t("child_confirmed_existing" if stored.match == "existing" else "child_confirmed_new", lang))
        return
    known = agencies(get_settings())
    options = [c.person_key for c in assessment.candidates] + [_NEW_CHILD]
    described = {c.person_key: t("candidate", lang, p=f"{c.probability:.0%}",
                                 agencies="、".join(known[a].name if a in known else a for a in c.agencies),
                                 agreeing="、".join(t(f"evidence.{f}", lang) for f in c.agreeing) or "—",
                                 differing="、".join(t(f"evidence.{f}", lang) for f in c.differing) or "—")
                 for c in assessment.candidates}
    if not assessment.candidates:
        st.info(t("no_candidates", lang))
    choice = st.radio(t("which_child", lang), options, index=None, key=f"confirm.{stored.report_id}",
                      format_func=lambda k: t("new_child", lang) if k == _NEW_CHILD else described[k])
    if st.button(t("confirm_child", lang), key=f"confirm.{stored.report_id}.button") and choice is not None:
        person_key, match = ((new_person_key(stored.agency_id, stored.report_id), "new") if choice == _NEW_CHILD
                             else (choice, "existing"))
        try:
            confirmed = confirm_child(operational_store(get_settings()), user, stored.agency_id, stored.report_id,
                                      stored.version, person_key, match, known)
        except StaleEdit as stale:
            st.error(t("stale_edit", lang, who=stale.changed_by, at=f"{stale.changed_at:%Y-%m-%d %H:%M}"))
            return
        session.put(_stored_key(stored.agency_id, stored.report_id), confirmed)
        st.rerun()


def show_entered(user: Account, agency_id: str, report_id: str, lang: str) -> None:
    """An intake entered in the app: its report, the child to confirm, the model and checklist, the decision."""
    current = get_settings()
    known = agencies(current)
    stored = session.value(_stored_key(agency_id, report_id))
    if stored is None:  # opened from the queue: read (and audited) once
        stored = stored_intake(operational_store(current), user, agency_id, report_id, known)
        session.put(_stored_key(agency_id, report_id), stored)
    known_champion = champion(current)
    key = _assessment_key(stored)
    try:
        with read_only(current.warehouse_path) as con:
            assessment = session.value(key)
            if assessment is None:
                typed = pd.DataFrame([stored.entry.typed_row(stored.report_id)])
                assessment = assess_entry(con, known_champion, typed, stored.person_key)
                session.put(key, assessment)
            holdings = load_holdings(con, assessment.person_key) if assessment.match == "existing" else ()
    except WarehouseUnavailable:
        st.error(t("warehouse_unavailable", lang))
        return
    entry = stored.entry
    st.header(t("intake_header", lang, report_id=literal(report_id),
                agency=literal(known[agency_id].name if agency_id in known else agency_id)))
    st.markdown("\n".join([
        f"- **{t('child_name', lang)}**: {literal(entry.child_name)}（{literal(entry.child_kana)}）",
        f"- **{t('received_at', lang)}**: {entry.received_at:%Y-%m-%d %H:%M}",
        f"- **{t('route_label', lang)}**: {t(f'route.{entry.route}', lang)}",
        f"- **{t('abuse_types_label', lang)}**: {'・'.join(t(f'abuse.{a}', lang) for a in entry.abuse_types)}",
    ]))
    _show_candidates(user, stored, assessment, lang)
    features = assessment.features
    show_answers(features, lang)
    show_history(features, holdings, known, lang)
    scored = None
    if known_champion is not None and assessment.risk_score is not None:
        scored = Scored(assessment.risk_score, assessment.interval, assessment.band, known_champion.base_rate,
                        known_champion.model, assessment.model_version)
    verdict = show_assessment(features, scored, t("no_champion", lang), lang)
    shown = Shown(agency_id, report_id, stored.person_key or assessment.person_key,
                  None if scored is None else scored.probability, None if scored is None else scored.model_version,
                  None if scored is None else scored.band, verdict)
    decision_form(operational_store(current), user, shown, known, lang)


def render() -> None:
    lang = session.language()
    user = session.user()
    st.title(t("nav.entry", lang))
    if not get_settings().warehouse_path.exists():
        st.info(t("no_warehouse", lang))
        return
    saved = session.value(SAVED)
    if saved is not None:
        st.success(t("intake_saved", lang, report_id=saved[1]))
        if st.button(t("next_intake", lang), key="entry.next"):
            session.put(SAVED, None)
            st.rerun()
        session.open_intake(session.OpenedIntake(saved[0], saved[1], True))
        show_entered(user, saved[0], saved[1], lang)
        return
    _form(user, lang)
