"""The child's record (mutual viewing): who holds records of the child since when, each granted agency's case
record (児童記録票) and the user's own agency's to edit, one timeline across agencies with its gaps, checkups and
immunizations with the growth chart, and the notices about the child with the forms to send one.

A record is opened from a search result, a notice or a change notification (``request_open``; the chosen child is
kept in the session). Access is decided below the page: ``open_child`` grants the agencies the user may see (a
stated purpose for a child held only outside the jurisdiction) and is audited once per child and session; what
the page then reads is kept in the session so that a rerun neither reads nor audits again.
"""
from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from app import session
from app.i18n import has, literal, t
from app.services import agencies, operational_store
from app.views.health import show_record
from kodomo.appdata.access import (DECIDING_ROLES, AccessDenied, Grant, Holding, in_jurisdiction,
                                   load_holdings, open_child)
from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from kodomo.linkage.identify import child_identity
from kodomo.health.access import open_health_record
from kodomo.health.growth import MEASURES, curves_for, growth_points
from kodomo.health.record import HealthRecord, NoHealthRecord, health_record
from kodomo.intake_entries import JAPAN
from kodomo.operational import HEALTH_STAFF, PLAN_STATUSES
from kodomo.sharing.case_records import (FIELDS, INSTITUTION_KINDS, CaseRecord, InvalidCaseRecord, StaleCaseRecord,
                                         case_record_holdings, case_record_versions, case_records, check_content,
                                         save_case_record)
from kodomo.sharing.notices import (FOUND, MISSING, MOVED, InvalidNotice, Notice, notices_of_child, open_missing,
                                    send_notice)
from kodomo.sharing.timeline import (APP_DECISION, RISK_SCORE, Gap, TimelineEvent, child_timeline, gaps,
                                     with_scores_and_decisions)
from kodomo.settings import get_settings

PAGE = "routes/child_record.py"  # relative to app/main.py
CHOSEN, _GO = "child_record.person_key", "child_record.go"
INSTITUTION_SLOTS = 3
_MESSAGE = "record.message"  # (level, text key, values) to show after the rerun that follows a save or a send


# --- opening a record from another page

def request_open(person_key: str) -> None:
    """A button's callback: open this child's record on the next run (``follow_request``), read afresh (and audited)
    as every opening is; a page change back to the record shows what was read. The form's typed values and the
    version they were typed over are kept."""
    session.put(CHOSEN, person_key)
    session.put(_GO, True)
    _refresh(*(f"record.{part}.{person_key}" for part in ("grant", "cases", "timeline", "health", "notices")))


def follow_request() -> None:
    """Go to the record page when a button of this page asked for it; call first thing on a page."""
    if session.value(_GO):
        session.put(_GO, None)
        st.switch_page(PAGE)


# --- small formats

def when(at: dt.datetime | dt.date | None) -> str:
    """A time as staff read it, in Japan time (the warehouse's naive times already are)."""
    if at is None or pd.isna(at):
        return "—"
    if isinstance(at, dt.datetime):
        return f"{(at.astimezone(JAPAN) if at.tzinfo else at):%Y-%m-%d %H:%M}"
    return f"{at:%Y-%m-%d}"


def agency_name(agency_id: str | None, known, lang: str) -> str:
    if agency_id is None:
        return "—"
    return known[agency_id].name if agency_id in known else t("record.outside_region", lang, code=agency_id)


def _label(prefix: str, code, lang: str) -> str:
    return t(f"{prefix}.{code}", lang) if code is not None and has(f"{prefix}.{code}", lang) else str(code or "—")


def _text(value: str) -> str:
    """Typed text for Markdown: shown as typed, line breaks kept."""
    return literal(value).replace("\n", "  \n") if value else "—"


def _say(level: str, key: str, **values) -> None:
    session.put(_MESSAGE, (level, key, values))


def _said(lang: str) -> None:
    said = session.value(_MESSAGE)
    if said:
        session.put(_MESSAGE, None)
        level, key, values = said
        getattr(st, level)(t(key, lang, **values))


# --- holders and the grant

def _holdings(store, con, person_key: str) -> tuple[Holding, ...]:
    """The warehouse's holders with the agencies keeping a case record the feeds do not name."""
    held = {h.agency_id: h for h in case_record_holdings(store, person_key)}
    held.update({h.agency_id: h for h in load_holdings(con, person_key)})
    return tuple(sorted(held.values(), key=lambda h: h.agency_id))


def _outside_only(user, holdings, known) -> bool:
    try:
        return bool(holdings) and not any(in_jurisdiction(user, h.agency_id, known) for h in holdings)
    except AccessDenied:
        return False


def _grant(store, user, person_key: str, holdings, known, lang: str) -> Grant | None:
    """The child's grant, made (and audited) once per child and session; a purpose asked for when needed."""
    key = f"record.grant.{person_key}"
    if session.value(key) is not None:
        return session.value(key)
    try:
        grant = open_child(store, user, person_key, holdings, known)
    except AccessDenied as refused:
        if not _outside_only(user, holdings, known):
            st.error(t("record.refused", lang, reason=str(refused)))
            return None
        st.warning(t("record.purpose_needed", lang))
        with st.form("record.purpose_form"):
            purpose = st.text_input(t("record.purpose", lang), key="record.purpose")
            submitted = st.form_submit_button(t("record.open_with_purpose", lang))
        if not submitted:
            return None
        try:
            grant = open_child(store, user, person_key, holdings, known, purpose)
        except AccessDenied as still:
            st.error(t("record.refused", lang, reason=str(still)))
            return None
    session.put(key, grant)
    return grant


def _show_holders(holdings, grant: Grant, known, lang: str) -> None:
    st.subheader(t("record.holders", lang))
    if grant.purpose:
        st.warning(t("record.purpose_shown", lang, purpose=literal(grant.purpose)))
    for h in holdings:
        key = "record.holder" if h.agency_id in grant.agencies else "record.holder_unopened"
        st.markdown("- " + t(key, lang, agency=literal(agency_name(h.agency_id, known, lang)), since=when(h.since)))


# --- case records

def _cached(key: str, read):
    """What ``read`` returns, read (and audited) once until ``_refresh``."""
    if session.value(key) is None:
        session.put(key, read())
    return session.value(key)


def _refresh(*keys: str) -> None:
    for key in keys:
        session.put(key, None)


def _show_case_record(record: CaseRecord, known, lang: str) -> None:
    c = record.content
    with st.container(border=True):
        st.markdown("**" + t("record.case_header", lang, agency=literal(agency_name(record.agency_id, known, lang)),
                             version=record.version, at=when(record.updated_at), by=literal(record.updated_by))
                    + "**")
        address = f"{_text(c.address)}（{literal(agency_name(c.address_municipality_code, known, lang))}）"
        st.markdown(f"**{t('record.field.address', lang)}**：{address}")
        institutions = "、".join(t("record.institution", lang, kind=_label("record.kind", i.kind, lang),
                                   name=literal(i.name), contact=literal(i.contact or "—")) for i in c.institutions)
        st.markdown(f"**{t('record.field.institutions', lang)}**：{institutions or '—'}")
        for field in ("household", "situation", "support_plan"):
            st.markdown(f"**{t(f'record.field.{field}', lang)}**：  \n{_text(getattr(c, field))}")
        st.markdown(f"**{t('record.field.plan_status', lang)}**：{_label('record.plan_status', c.plan_status, lang)}"
                    f"　**{t('record.field.worker_id', lang)}**：{literal(c.worker_id)}")


def _form_key(person_key: str, field: str) -> str:
    return f"record.form.{person_key}.{field}"


def _prefill(person_key: str, own: CaseRecord | None, user) -> None:
    """The form starts from the saved record (or empty, the user in charge); typed values are never replaced."""
    c = own.content if own else None
    values = {"address": c.address if c else "", "address_municipality_code": c.address_municipality_code if c else "",
              "household": c.household if c else "", "situation": c.situation if c else "",
              "support_plan": c.support_plan if c else "", "plan_status": c.plan_status if c else PLAN_STATUSES[0],
              "worker_id": c.worker_id if c else user.user_id}
    for n in range(INSTITUTION_SLOTS):
        listed = c.institutions[n] if c and n < len(c.institutions) else None
        values |= {f"institution{n}.kind": listed.kind if listed else "",
                   f"institution{n}.name": listed.name if listed else "",
                   f"institution{n}.contact": listed.contact if listed else ""}
    for field, value in values.items():
        if session.value(_form_key(person_key, field)) is None:
            session.put(_form_key(person_key, field), value)


def _typed(person_key: str) -> dict:
    value = lambda field: session.value(_form_key(person_key, field)) or ""  # noqa: E731
    institutions = [{"kind": value(f"institution{n}.kind"), "name": value(f"institution{n}.name"),
                     "contact": value(f"institution{n}.contact")} for n in range(INSTITUTION_SLOTS)]
    return {**{f: value(f) for f in FIELDS if f != "institutions"},
            "institutions": [i for i in institutions if any(i.values())]}


def _field_label(error_key: str, lang: str) -> str:
    """``institutions[1].name`` -> 所属 2 名称; ``household`` -> 世帯の状況."""
    if error_key.startswith("institutions["):
        n = int(error_key[len("institutions["):].split("]")[0])
        part = error_key.split(".", 1)[1] if "." in error_key else None
        slot = t("record.institution_slot", lang, n=n + 1)
        return f"{slot} {t(f'record.institution_{part}', lang)}" if part in ("kind", "name", "contact") else slot
    return t(f"record.field.{error_key}", lang) if has(f"record.field.{error_key}", lang) else error_key


def _case_form(store, con, user, person_key: str, own: CaseRecord | None, known, lang: str) -> None:
    version_key = f"record.version.{person_key}"
    if session.value(version_key) is None:
        session.put(version_key, ("opened", own.version if own else None))
    _prefill(person_key, own, user)
    key = lambda field: _form_key(person_key, field)  # noqa: E731
    with st.form(f"record.case_form.{person_key}"):
        st.text_input(t("record.field.address", lang), key=key("address"))
        st.text_input(t("record.field.address_municipality_code", lang), key=key("address_municipality_code"))
        for n in range(INSTITUTION_SLOTS):
            kind, name, contact = st.columns([1, 2, 2])
            kind.selectbox(t("record.institution_slot", lang, n=n + 1) + " " + t("record.institution_kind", lang),
                           ["", *INSTITUTION_KINDS], key=key(f"institution{n}.kind"),
                           format_func=lambda k: _label("record.kind", k, lang))
            name.text_input(t("record.institution_name", lang), key=key(f"institution{n}.name"))
            contact.text_input(t("record.institution_contact", lang), key=key(f"institution{n}.contact"))
        for field in ("household", "situation", "support_plan"):
            st.text_area(t(f"record.field.{field}", lang), key=key(field))
        st.radio(t("record.field.plan_status", lang), PLAN_STATUSES, horizontal=True, key=key("plan_status"),
                 format_func=lambda s: t(f"record.plan_status.{s}", lang))
        st.text_input(t("record.field.worker_id", lang), key=key("worker_id"))
        submitted = st.form_submit_button(t("record.save", lang))
    if not submitted:
        return
    try:
        content = check_content(_typed(person_key))
        saved = save_case_record(store, con, user, person_key, content, known,
                                 expected_version=session.value(version_key)[1])
    except InvalidCaseRecord as bad:
        for field, reason in bad.errors.items():
            st.error(t("record.invalid", lang, field=_field_label(field, lang), reason=reason))
        return
    except StaleCaseRecord as stale:
        # The newer record is shown above; the typed values stay, and a second save goes over the newer version.
        session.put(version_key, ("opened", stale.current_version))
        _say("error", "record.stale", at=when(stale.changed_at), by=literal(stale.changed_by),
             version=stale.current_version)
    except AccessDenied as refused:
        st.error(t("record.case_refused", lang, reason=str(refused)))
        return
    else:
        session.put(version_key, ("opened", saved.version))
        _say("success", "record.saved", version=saved.version)
    _refresh(f"record.cases.{person_key}", f"record.timeline.{person_key}")
    st.rerun()


def _show_case_records(store, con, user, grant: Grant, known, lang: str) -> None:
    st.header(t("record.case_records", lang))
    person_key = grant.person_key
    try:
        records = _cached(f"record.cases.{person_key}", lambda: case_records(store, user, grant))
    except AccessDenied as refused:
        st.info(t("record.case_refused", lang, reason=str(refused)))
        return
    if not records:
        st.info(t("record.no_case_records", lang))
    for record in records:
        _show_case_record(record, known, lang)
    if user.role in DECIDING_ROLES:
        own = next((r for r in records if r.agency_id == user.agency_id), None)
        title = t("record.edit_own", lang, version=own.version) if own else t("record.create_own", lang)
        with st.expander(title):  # the record is read far more often than written: the form waits until asked
            _case_form(store, con, user, person_key, own, known, lang)


# --- the timeline

def _detail(e: TimelineEvent, known, lang: str) -> str:
    if e.event_type == "report_received":
        kinds = "・".join(_label("abuse", a, lang) for a in (e.abuse_types or "").split(";") if a)
        return f"{_label('route', e.route, lang)}　{kinds}".strip()
    if e.event_type == "assessment":
        return _label("decision", e.worker_decision, lang) if e.worker_decision else ""
    if e.event_type.startswith("checkup"):
        result = f"（{_label('health.result', e.checkup_result, lang)}）" if e.checkup_result else ""
        return _label("health.checkup", e.checkup_type, lang) + result
    if e.event_type == "immunization":
        return t("record.detail.dose", lang, vaccine=_label("health.vaccine", e.vaccine, lang), dose=e.dose)
    if e.event_type in ("move_in", "move_out"):
        return t("record.detail.move", lang, from_place=agency_name(e.from_municipality_code, known, lang),
                 to_place=agency_name(e.to_municipality_code, known, lang))
    if e.event_type == RISK_SCORE:
        return t("record.detail.risk_score", lang, probability=f"{e.risk_score:.1%}", version=e.model_version)
    if e.event_type == APP_DECISION:
        shown = "—" if e.risk_score is None else f"{e.risk_score:.1%}"
        what = _label("disposition", e.disposition, lang) if e.disposition else _label("decision", e.worker_decision,
                                                                                          lang)
        return t("record.detail.app_decision", lang, disposition=what, worker=literal(e.worker_id), probability=shown)
    if e.event_type == "alert_moved" and e.destination_agency_id:
        return t("record.detail.notice_to", lang, to=agency_name(e.destination_agency_id, known, lang))
    return ""


def gap_text(gap: Gap, known, lang: str) -> str:
    e = gap.event
    values = {"date": when(e.at.date() if gap.kind.startswith("move") else e.at),
              "agency": agency_name(gap.agency_id, known, lang)}
    if gap.other_agency_id:
        values["place"] = agency_name(gap.other_agency_id, known, lang)
    if gap.kind.startswith("safety"):
        values |= {"deadline": when(gap.since), "resolved": when(gap.resolved_at)}
    if gap.kind == "checkup_not_made_up":
        values["checkup"] = _label("health.checkup", e.checkup_type, lang)
    return t(f"record.gap.{gap.kind}", lang, **{k: literal(v) for k, v in values.items()})


def _timeline_rows(events, versions, found: list[Gap], known, lang: str) -> pd.DataFrame:
    flagged = {g.event.sequence for g in found}
    rows = [{"at": e.at, t("record.col.when", lang): when(e.at), t("record.col.known", lang): when(e.known_at),
             t("record.col.event", lang): _label("record.event", e.event_type, lang),
             t("record.col.agency", lang): agency_name(e.agency_id, known, lang),
             t("record.col.source", lang): _label("record.feed", e.source_feed, lang),
             t("record.col.detail", lang): _detail(e, known, lang),
             t("record.col.gap", lang): t("record.gap_mark", lang) if e.sequence in flagged else ""} for e in events]
    for v in versions:  # case records saved in the app: known the moment they were saved
        at = v.saved_at.astimezone(JAPAN).replace(tzinfo=None)
        rows.append({"at": at, t("record.col.when", lang): when(at), t("record.col.known", lang): when(at),
                     t("record.col.event", lang): t("record.event.case_record", lang, version=v.version,
                                                    by=v.saved_by),
                     t("record.col.agency", lang): agency_name(v.agency_id, known, lang),
                     t("record.col.source", lang): t("record.feed.app", lang), t("record.col.detail", lang): "",
                     t("record.col.gap", lang): ""})
    return pd.DataFrame(rows).sort_values("at", kind="stable").drop(columns="at") if rows else pd.DataFrame()


def _show_timeline(store, con, user, grant: Grant, holdings, known, lang: str) -> None:
    st.header(t("record.timeline", lang))
    events = _cached(f"record.timeline.{grant.person_key}",
                     lambda: with_scores_and_decisions(con, store, child_timeline(con, grant)))
    versions = case_record_versions(store, user, grant)
    unseen = {h.agency_id for h in holdings} - set(grant.agencies)
    found = gaps(events, known, unseen=unseen)
    st.subheader(t("record.gaps", lang))
    if found:
        for gap in found:
            st.warning(gap_text(gap, known, lang), icon="⚠️")
    else:
        st.success(t("record.no_gaps", lang))
    table = _timeline_rows(events, versions, found, known, lang)
    if table.empty:
        st.info(t("record.no_events", lang))
    else:
        st.dataframe(table, hide_index=True, key=f"record.timeline_table.{grant.person_key}")


# --- health and growth

def _health(store, con, user, grant: Grant) -> HealthRecord:
    """Health staff through the health record's own rule (audited there); caseworkers through the child's grant."""
    if user.role == HEALTH_STAFF:
        return open_health_record(store, con, user, grant.person_key)
    return health_record(con, grant.person_key)


def growth_chart(record: HealthRecord, measure: str, lang: str) -> alt.LayerChart | None:
    """The child's measurements over the verified national curves of the child's sex; None without measurements."""
    points = [(p.age_months, getattr(p, measure)) for p in growth_points(record) if getattr(p, measure) is not None]
    if not points:
        return None
    series, age, value = t("record.series", lang), t("health.age_months", lang), t(f"record.measure.{measure}", lang)
    child = pd.DataFrame([{age: a, value: v, series: t("record.child_points", lang)} for a, v in points])
    layers = []
    curves = curves_for(record.sex, measure)
    if curves:
        frame = pd.DataFrame([{age: c.age_months, value: c.value, series: t("record.percentile", lang, p=c.percentile),
                               "percentile": c.percentile} for c in curves])
        layers.append(alt.Chart(frame).mark_line(strokeDash=[4, 3], color="#9aa5b1").encode(
            x=alt.X(f"{age}:Q"), y=alt.Y(f"{value}:Q", scale=alt.Scale(zero=False)), detail="percentile:N",
            tooltip=[series, age, value]))
    layers.append(alt.Chart(child).mark_line(point=alt.OverlayMarkDef(size=70, filled=True), color="#d1495b").encode(
        x=alt.X(f"{age}:Q"), y=alt.Y(f"{value}:Q", scale=alt.Scale(zero=False)), tooltip=[age, value]))
    return alt.layer(*layers).properties(title=value, height=260)


def _show_health(store, con, user, grant: Grant, lang: str) -> None:
    st.header(t("record.health", lang))
    try:
        record = _cached(f"record.health.{grant.person_key}", lambda: _health(store, con, user, grant))
    except NoHealthRecord:
        st.info(t("record.no_health", lang))
        return
    except AccessDenied as refused:
        st.info(t("record.health_refused", lang, reason=str(refused)))
        return
    show_record(record, lang)
    st.subheader(t("record.growth", lang))
    charts = {m: growth_chart(record, m, lang) for m in MEASURES}
    if not any(charts.values()):
        st.info(t("record.growth_none", lang))
        return
    st.caption(t("record.growth_caption", lang))
    for column, (measure, chart) in zip(st.columns(len(MEASURES)), charts.items()):
        with column:
            if chart is not None:
                st.altair_chart(chart, width="stretch")
            if not curves_for(record.sex, measure):
                st.caption(t("record.growth_no_reference", lang))


# --- notices

def notice_card(notice: Notice, known, lang: str) -> None:
    """A notice as its receivers and sender read it: what, about whom, from whom, the essentials, who acknowledged."""
    st.markdown(t("notices.line", lang, kind=t(f"notices.kind.{notice.kind}", lang),
                  child=literal(notice.person_key[:8]), sender=literal(agency_name(notice.from_agency_id, known, lang)),
                  at=when(notice.sent_at), source=t(f"notices.source.{notice.source}", lang)))
    if notice.destination_municipality_code:
        st.markdown(t("notices.destination", lang,
                      place=literal(agency_name(notice.destination_municipality_code, known, lang))))
    if notice.summary:
        st.markdown(_text(notice.summary))
    facts = _essentials(notice.essentials, known, lang)
    if facts:
        st.caption("　".join(facts))
    for receipt in notice.recipients:
        receiver = literal(agency_name(receipt.agency_id, known, lang))
        if receipt.acknowledged_at is not None:
            st.caption(t("notices.acknowledged_by", lang, agency=receiver, at=when(receipt.acknowledged_at),
                         by=literal(receipt.acknowledged_by)))
        else:
            st.caption(("⚠ " if receipt.overdue else "") + t("notices.not_acknowledged", lang, agency=receiver))
    if notice.closed_by:
        st.caption(t("notices.closed", lang))


def _essentials(essentials: dict, known, lang: str) -> list[str]:
    def fact(key: str, value: str) -> str:
        return t("notices.essential", lang, name=t(f"notices.ess.{key}", lang), value=value)

    facts = []
    if essentials.get("birth_year_month"):
        facts.append(fact("birth", literal(essentials["birth_year_month"])))
    if essentials.get("sex"):
        facts.append(fact("sex", _label("sex", essentials["sex"], lang)))
    if (case := essentials.get("open_case")) and case.get("report_count_365_days"):
        facts.append(fact("open_case", t("notices.ess.open_case_value", lang, count=case["report_count_365_days"],
                                         last=literal(case.get("last_report_on") or "—"))))
    if worker := essentials.get("worker"):
        facts.append(fact("worker", literal(worker.get("display_name") or worker.get("user_id"))))
    if record := essentials.get("case_record"):
        facts.append(fact("address", literal(record.get("address") or "—")))
        attends = "、".join(literal(i.get("name", "")) for i in record.get("institutions") or [])
        if attends:
            facts.append(fact("institutions", attends))
        facts.append(fact("plan_status", _label("record.plan_status", record.get("plan_status"), lang)))
    if code := essentials.get("last_address_municipality_code"):
        facts.append(fact("last_address", literal(agency_name(code, known, lang))))
    return facts


def _send(store, con, user, person_key: str, kind: str, known, summary_key: str, lang: str, **options) -> None:
    """A form's outcome: the notice sent, or why not; said after the rerun."""
    try:
        notice = send_notice(store, con, user, person_key, kind, known, summary=session.value(summary_key) or "",
                             **options)
    except (InvalidNotice, AccessDenied) as refused:
        _say("error", "record.notice_invalid", reason=str(refused))
        return
    session.forget(summary_key)
    _say("success", "record.notice_sent", kind=t(f"notices.kind.{kind}", lang),
         count=len(notice.recipients))
    _refresh(f"record.notices.{person_key}")


def _municipalities(known, lang: str) -> dict[str, str]:
    return {a.agency_id: f"{a.name}（{a.agency_id}）"
            for a in sorted(known.values(), key=lambda a: a.agency_id) if a.agency_type == "municipality"}


def _notice_forms(store, con, user, person_key: str, known, lang: str) -> None:
    places = _municipalities(known, lang)
    with st.expander(t("record.send_moved", lang)):
        with st.form(f"record.moved_form.{person_key}"):
            destination = st.selectbox(t("record.destination", lang), list(places), format_func=places.get,
                                       index=None, placeholder=t("choose", lang), key="record.moved_destination")
            st.text_area(t("record.summary", lang), key="record.moved_summary")
            if st.form_submit_button(t("record.send", lang)):
                if destination is None:
                    _say("error", "record.notice_invalid", reason=t("record.destination", lang))
                else:
                    _send(store, con, user, person_key, MOVED, known, "record.moved_summary", lang,
                          destination_municipality_code=destination)
                st.rerun()
    open_now = open_missing(store, con, person_key)
    for missing in open_now:
        st.warning(t("record.missing_open", lang, at=when(missing.sent_at),
                     agency=literal(agency_name(missing.from_agency_id, known, lang))))
    if open_now:  # a found notice closes the oldest open missing notice, from the app or the alerts feed
        with st.expander(t("record.send_found", lang)):
            with st.form(f"record.found_form.{person_key}"):
                st.text_area(t("record.summary", lang), key="record.found_summary")
                if st.form_submit_button(t("record.send", lang)):
                    _send(store, con, user, person_key, FOUND, known, "record.found_summary", lang,
                          closes=open_now[0].ref)
                    st.rerun()
    else:
        with st.expander(t("record.send_missing", lang)):
            with st.form(f"record.missing_form.{person_key}"):
                st.text_area(t("record.summary", lang), key="record.missing_summary")
                if st.form_submit_button(t("record.send", lang)):
                    _send(store, con, user, person_key, MISSING, known, "record.missing_summary", lang)
                    st.rerun()


def _show_notices(store, con, user, grant: Grant, known, lang: str) -> None:
    st.header(t("record.notices", lang))
    found = _cached(f"record.notices.{grant.person_key}", lambda: notices_of_child(store, con, user, grant))
    if not found:
        st.info(t("record.no_notices", lang))
    for notice in found:
        with st.container(border=True):
            notice_card(notice, known, lang)
    if user.role in DECIDING_ROLES:  # who may send is decided below (kodomo.sharing.notices)
        _notice_forms(store, con, user, grant.person_key, known, lang)


# --- the page

def render(lang: str, user) -> None:
    st.title(t("record.title", lang))
    st.caption(t("record.help", lang))
    person_key = session.value(CHOSEN)
    if person_key is None:
        st.info(t("record.none_chosen", lang))
        return
    st.caption(t("record.child", lang, child=literal(person_key)))
    _said(lang)
    settings = get_settings()
    store, known = operational_store(settings), agencies(settings)
    try:
        with read_only(settings.warehouse_path) as con:
            holdings = _holdings(store, con, person_key)
            grant = _grant(store, user, person_key, holdings, known, lang)
            if grant is None:
                return
            # the name as the search shows it: from the records of the user's own jurisdiction only
            own = [a for a in grant.agencies if in_jurisdiction(user, a, known)]
            if identity := child_identity(con, person_key, own):
                st.subheader(t("record.identity", lang, **{k: literal(v) for k, v in identity.items()}))
            _show_holders(holdings, grant, known, lang)
            _show_case_records(store, con, user, grant, known, lang)
            _show_timeline(store, con, user, grant, holdings, known, lang)
            _show_health(store, con, user, grant, lang)
            _show_notices(store, con, user, grant, known, lang)
    except AccessDenied as refused:
        st.error(t("record.refused", lang, reason=str(refused)))
    except WarehouseUnavailable:
        st.error(t("record.unavailable", lang))
