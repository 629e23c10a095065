"""Municipal health staff: children who moved in, with the previous municipality's checkups and doses (the
handover), one child's health record (checkups, growth, immunizations against the schedule as of today), a
one-time access code for the child's parents; and the parents' own page, opened with that code.

Everything comes from ``kodomo.health`` (marts only; access refused and audited there).
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from app.i18n import has, literal, t
from app.services import operational_store
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.health.access import open_health_record
from kodomo.health.fhir import fhir_bundle
from kodomo.health.record import HealthRecord, NoHealthRecord
from kodomo.health.store import (AccessCodeNotValid, Handover, acknowledge_handover, handover_worklist,
                                 issue_parent_code, parent_health_record)
from kodomo.settings import get_settings

_OPENED, _ISSUED = "health.opened", "health.issued_code"


def _checkups(record_checkups, lang: str) -> pd.DataFrame:
    return pd.DataFrame({
        t("health.col.checkup", lang): [t(f"health.checkup.{c.checkup_type}", lang) for c in record_checkups],
        t("health.col.date", lang): [f"{c.exam_date or c.scheduled_date or ''}" for c in record_checkups],
        t("health.col.status", lang): [t(f"health.checkup_status.{c.status}", lang) for c in record_checkups],
        t("health.col.height", lang): [c.height_cm for c in record_checkups],
        t("health.col.weight", lang): [c.weight_kg for c in record_checkups],
        t("health.col.result", lang): [t(f"health.result.{c.result}", lang) if c.result else "—"
                                       for c in record_checkups],
    })


def _doses(doses, lang: str) -> pd.DataFrame:
    return pd.DataFrame({
        t("health.col.vaccine", lang): [_vaccine(d.vaccine, lang) for d in doses],
        t("health.col.dose", lang): [d.dose for d in doses],
        t("health.col.status", lang): [t(f"health.status.{d.status}", lang) for d in doses],
        t("health.col.due_from", lang): [f"{d.eligible_from or '—'}" for d in doses],
        t("health.col.overdue_after", lang): [f"{d.due_by or '—'}" for d in doses],
        t("health.col.window_ends", lang): [f"{d.window_ends_on or '—'}" for d in doses],
        t("health.col.given", lang): [f"{d.administered_on or '—'}" for d in doses],
    })


def _vaccine(code: str, lang: str) -> str:
    return t(f"health.vaccine.{code}", lang) if has(f"health.vaccine.{code}", lang) else code


def show_record(record: HealthRecord, lang: str) -> None:
    """The record as a health nurse reads it: what to do next first, then the doses, the checkups and growth."""
    st.caption(t("health.as_of", lang, as_of=f"{record.as_of}", birth=record.birth_year_month or "—"))
    counts = record.status_counts()
    st.write(" ・ ".join(f"{t(f'health.status.{status}', lang)}: {n}" for status, n in counts.items()))
    st.subheader(t("health.due_next", lang))
    if record.due_next:
        st.dataframe(_doses(record.due_next, lang), hide_index=True, key=f"health.next.{record.person_key}")
    else:
        st.info(t("health.nothing_due", lang))
    st.subheader(t("health.immunizations", lang))
    st.dataframe(_doses(record.doses, lang), hide_index=True, key=f"health.doses.{record.person_key}")
    st.subheader(t("health.checkups", lang))
    if not record.checkups:
        st.info(t("health.no_checkups", lang))
        return
    st.dataframe(_checkups(record.checkups, lang), hide_index=True, key=f"health.checkups.{record.person_key}")
    growth = pd.DataFrame([{"age_months": c.age_months, t("health.col.weight", lang): c.weight_kg,
                            t("health.col.height", lang): c.height_cm}
                           for c in record.checkups if c.age_months is not None and c.weight_kg is not None])
    if len(growth) >= 2:
        st.line_chart(growth.set_index("age_months"), x_label=t("health.age_months", lang))


def _handover_row(handover: Handover, lang: str) -> dict:
    return {
        t("health.col.moved_on", lang): f"{handover.moved_on}",
        t("health.col.from", lang): handover.from_agency_name or t("health.outside_region", lang),
        t("health.col.doses_given", lang): len(handover.doses_given),
        t("health.col.due_next", lang): len(handover.due_next),
        t("health.col.acknowledged", lang): f"{handover.acknowledged_at:%Y-%m-%d}" if handover.acknowledged_at
        else t("health.not_acknowledged", lang),
    }


def render_handovers(lang: str, user: Account) -> None:
    """The receiving municipality's handover worklist; open one child's record, acknowledge, issue a parent code."""
    st.title(t("health.title", lang))
    st.caption(t("health.help", lang))
    current = get_settings()
    store = operational_store(current)
    try:
        with read_only(current.warehouse_path) as con:
            handovers = handover_worklist(store, con, user)
            if not handovers:
                st.info(t("health.no_handovers", lang))
                return
            st.dataframe(pd.DataFrame([_handover_row(h, lang) for h in handovers]), hide_index=True,
                         key="health.worklist")
            labels = {i: f"{h.moved_on} ・ {h.from_agency_name or t('health.outside_region', lang)} ・ "
                         f"{h.person_key[:8]}" for i, h in enumerate(handovers)}
            chosen = st.selectbox(t("health.choose", lang), list(labels), format_func=labels.get, index=None,
                                  placeholder=t("choose", lang), key="health.chosen")
            if chosen is None:
                return
            handover = handovers[chosen]
            # Opened (and audited) once per child and session, not on every rerun.
            opened: dict = st.session_state.setdefault(_OPENED, {})
            if handover.person_key not in opened:
                opened[handover.person_key] = open_health_record(store, con, user, handover.person_key)
            record = opened[handover.person_key]
            st.header(t("health.record_header", lang, child=literal(handover.person_key[:8])))
            if handover.acknowledged_at is None:
                if st.button(t("health.acknowledge", lang), key=f"health.ack.{handover.person_key}"):
                    acknowledge_handover(store, con, user, handover.person_key, handover.moved_on,
                                         handover.from_agency_id)
                    st.rerun()
            else:
                st.success(t("health.acknowledged", lang, at=f"{handover.acknowledged_at:%Y-%m-%d %H:%M}",
                             by=literal(handover.acknowledged_by)))
            _parent_code(current, store, con, user, handover.person_key, lang)
    except AccessDenied as refused:
        st.error(t("refused", lang, reason=str(refused)))
        return
    except WarehouseUnavailable:
        st.error(t("warehouse_unavailable", lang))
        return
    show_record(record, lang)


def _parent_code(current, store, con, user: Account, person_key: str, lang: str) -> None:
    issued: dict = st.session_state.setdefault(_ISSUED, {})
    if st.button(t("health.issue_code", lang), key=f"health.issue.{person_key}"):
        issued[person_key] = issue_parent_code(store, current, con, user, person_key)[1]
    if person_key in issued:
        st.info(t("health.code_issued", lang, code=issued[person_key]))


def render_parent(lang: str) -> None:
    """Parents: their child's checkups, growth and vaccinations with a code from the municipality; nothing else."""
    st.title(t("health.parent_title", lang))
    st.caption(t("health.parent_help", lang))
    with st.form("health.parent_form"):
        code = st.text_input(t("health.code", lang), key="health.parent_code")
        submitted = st.form_submit_button(t("health.open", lang))
    current = get_settings()
    if submitted:
        try:
            with read_only(current.warehouse_path) as con:
                st.session_state["health.parent_record"] = parent_health_record(
                    operational_store(current), current, con, code)
        except (AccessCodeNotValid, NoHealthRecord):
            st.session_state.pop("health.parent_record", None)
            st.error(t("health.code_refused", lang))
        except WarehouseUnavailable:
            st.error(t("warehouse_unavailable", lang))
    record: HealthRecord | None = st.session_state.get("health.parent_record")
    if record is None:
        return
    show_record(record, lang)
    st.download_button(t("health.download_fhir", lang),
                       json.dumps(fhir_bundle(record), ensure_ascii=False, indent=1).encode("utf-8"),
                       file_name=f"health_record_{dt.date.today():%Y%m%d}.json", mime="application/fhir+json")
