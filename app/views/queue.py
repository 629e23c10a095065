"""The work queue (caseworker, supervisor): the open intakes of the user's jurisdiction, fed and entered, with
score, decision status and the 48-hour safety-check deadline; exact lookup by report number. No names.

Opening an intake writes its audit row once (``access.open_intake``); another jurisdiction's needs a purpose."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import session
from app.i18n import age_text, literal, t
from app.presentation import safety_check
from app.services import agencies, operational_store
from kodomo.appdata import intakes
from kodomo.appdata.access import AccessDenied, in_jurisdiction, open_intake
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.intake_entries import decision_status, entered_intakes
from kodomo.settings import get_settings

SORTS = ("score", "received", "deadline")
LOOKUP, PURPOSE = "queue.lookup", "queue.purpose"


def _queue(con, user, known, store) -> pd.DataFrame:
    """Fed and entered intakes of the jurisdiction's agencies, one frame."""
    mine = sorted(a for a in known if in_jurisdiction(user, a, known))
    fed = intakes.work_queue(con, mine).assign(entered=False)
    entered = pd.DataFrame([{
        "agency_id": s.agency_id, "report_id": s.report_id, "received_at": s.entry.received_at,
        "age_years": (s.entry.received_at.date() - s.entry.birth_date).days / 365.25, "risk_score": None,
        "model_version": None, "safety_confirmed_at": None, "entered": True,
    } for s in entered_intakes(store, user, known)])
    frame = pd.concat([f for f in (fed, entered) if len(f)], ignore_index=True) if len(entered) else fed
    status: dict[tuple[str, str], str] = {}
    for agency in mine:
        status.update({(agency, report): state for report, state in decision_status(store, agency).items()})
    frame["status"] = [status.get((a, r), "open") for a, r in zip(frame["agency_id"], frame["report_id"])]
    return frame


def _table(frame: pd.DataFrame, known, now: dt.datetime, lang: str) -> pd.DataFrame:
    checks = [safety_check(r, c) for r, c in zip(frame["received_at"], frame["safety_confirmed_at"])]
    return pd.DataFrame({
        t("col_report", lang): frame["report_id"],
        t("col_agency", lang): [known[a].name if a in known else a for a in frame["agency_id"]],
        t("received_at", lang): [f"{pd.Timestamp(r):%Y-%m-%d %H:%M}" for r in frame["received_at"]],
        t("age", lang): [age_text(a, lang) for a in frame["age_years"]],
        t("probability", lang): ["—" if pd.isna(p) else f"{p:.1%}" for p in frame["risk_score"]],
        t("col_safety_deadline", lang): [f"{c.deadline:%Y-%m-%d %H:%M}" for c in checks],
        t("col_safety", lang): [t(f"safety_state.{c.state(now)}", lang) for c in checks],
        t("col_status", lang): [t(f"status.{s}", lang) for s in frame["status"]],
        t("col_source", lang): [t("source.entered" if e else "source.fed", lang) for e in frame["entered"]],
    })


def _sorted(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    if by == "score":
        return frame.sort_values(["risk_score", "received_at"], ascending=[False, False], na_position="first")
    return frame.sort_values("received_at", ascending=by == "deadline")


def _open(user, agency_id: str, report_id: str, entered: bool, purpose: str | None, lang: str) -> None:
    """Open (and audit, once) an intake, then go to its page."""
    if session.already_opened(agency_id, report_id) is None:
        current = get_settings()
        store = operational_store(current)
        try:
            if entered:
                grant = None  # the entered intake's own view is audited by the store when the page reads it
            else:
                with read_only(current.warehouse_path) as con:
                    person_key = str(intakes.intake(con, agency_id, report_id)[0]["person_key"].iloc[0])
                grant = open_intake(store, user, agency_id, report_id, person_key, agencies(current), purpose)
        except AccessDenied:
            st.error(t("needs_purpose", lang))
            st.session_state[PURPOSE + ".needed"] = True
            return
        session.open_intake(session.OpenedIntake(agency_id, report_id, entered, grant))
    else:
        session.open_intake(session.already_opened(agency_id, report_id))
    st.switch_page("routes/intake.py")


def _lookup(user, frame: pd.DataFrame, lang: str) -> None:
    st.subheader(t("lookup_header", lang))
    with st.form("queue.lookup.form"):
        number = st.text_input(t("lookup_label", lang), key=session.keep(LOOKUP))
        purpose = st.text_input(t("purpose_label", lang), key=session.keep(PURPOSE), help=t("purpose_help", lang))
        submitted = st.form_submit_button(t("open", lang))
    session.remember(LOOKUP, PURPOSE)
    if not submitted:
        return
    number = number.strip()
    mine = frame[frame["report_id"] == number]
    if len(mine) == 1:
        row = mine.iloc[0]
        _open(user, row["agency_id"], number, bool(row["entered"]), None, lang)
        return
    try:
        with read_only(get_settings().warehouse_path) as con:
            found = intakes.agencies_of_report(con, number)
    except WarehouseUnavailable:
        st.error(t("warehouse_unavailable", lang))
        return
    if len(found) != 1:
        st.error(t("lookup_none" if not found else "lookup_many", lang, number=literal(number)))
        return
    _open(user, found[0], number, False, purpose.strip() or None, lang)


def render() -> None:
    lang = session.language()
    user = session.user()
    st.title(t("nav.queue", lang))
    current = get_settings()
    try:
        with read_only(current.warehouse_path) as con:
            if not intakes.has_scores(con):
                st.info(t("no_warehouse", lang))
                return
            known = agencies(current)
            frame = _queue(con, user, known, operational_store(current))
    except WarehouseUnavailable:
        if current.warehouse_path.exists():
            st.error(t("warehouse_unavailable", lang))
        else:
            st.info(t("no_warehouse", lang))
        return
    except AccessDenied as refused:
        st.error(t("refused", lang, reason=str(refused)))
        return
    _lookup(user, frame, lang)
    by = st.radio(t("sort_by", lang), SORTS, key=session.keep_choice("queue.sort"), horizontal=True,
                  format_func=lambda s: t(f"sort.{s}", lang))
    session.remember("queue.sort")
    ordered = _sorted(frame, by).reset_index(drop=True)
    now = dt.datetime.now()
    overdue = sum(safety_check(r, c).state(now) == "overdue"
                  for r, c in zip(ordered["received_at"], ordered["safety_confirmed_at"]))
    st.caption(t("queue_summary", lang, n=len(ordered), overdue=overdue))
    table = _table(ordered, known, now, lang)
    overdue_label = t("safety_state.overdue", lang)
    styled = table.style.apply(lambda row: ["background-color: #fde2e1" if row[t("col_safety", lang)] == overdue_label
                                            else "" for _ in row], axis=1)
    picked = st.dataframe(styled, hide_index=True, on_select="rerun", selection_mode="single-row", key="queue.table")
    rows = picked.selection.rows if picked is not None else []
    if rows:
        row = ordered.iloc[rows[0]]
        _open(user, row["agency_id"], row["report_id"], bool(row["entered"]), None, lang)
