"""Intakes entered in the app, the worker's decisions on them and the supervisor's review (issue 10).

**Entry.** ``check_entry`` checks a filled-in form by the contracts' own row checks (``kodomo.ingest.validate``
over ``ml.live_scoring``'s report and item contracts) and names every bad field; only a valid ``IntakeEntry`` is
stored. ``enter_intake`` gives it the agency's next report number (``APP`` + six digits: no agency's own report
numbers start so) and a new ID for the child at the agency (``APPC`` + the same digits), ``confirm_child``
records whom the worker confirmed it to be; a child confirmed again at the same agency keeps the ID of the
agency's earlier app intake of that child. A change to the child's name, kana, birth date or sex undoes the
confirmation (the worker confirms again). Saves are optimistically locked: each names the version it was opened
at, and a save over a newer version is refused (``StaleEdit``), never merged or overwritten.

**Decisions.** A worker records a disposition (what staff record in practice), which maps to the contract's
``worker_decision`` in ``DISPOSITION_DECISIONS``, and a rationale. ``review_reasons`` sends a decision to the
supervisors of the intake's jurisdiction when it goes against the model's band or the official checklist's
verdict; the supervisor confirms it or returns it with a comment, once. A changed decision is a new row that
``amends`` the earlier one.

**Access.** Entry, changes and confirmation are for caseworkers and supervisors of the intake's own agency;
viewing and deciding for those of its jurisdiction (``kodomo.appdata.access``). Every entry, change,
confirmation, view, decision and review writes its audit row in the transaction that does it, timed by the
database. ``entered_intakes`` and ``decision_status`` are the work queue's rows and are not audited: the pages
show them without names (report number, dates, status); opening one is ``stored_intake``, which is.

What is entered here becomes data for the next run through ``kodomo.ingest.app_deliveries``.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Connection, RowMapping, func, insert, select, update

from kodomo.appdata.access import (DECIDING_ROLES, Agency, AccessDenied, in_jurisdiction, require_own_decision,
                                   require_role)
from kodomo.contracts import contract
from kodomo.ingest.validate import check_rows
from kodomo.operational import (BANDS, MATCHES, REVIEW_OUTCOMES, SUPERVISOR, VIEW_INTAKE, AccessEntry,
                                AuditedTransaction, InvalidDecision, WorkerDecision, app_intakes, audited,
                                decision_reviews, store_decision, worker_decisions)
from kodomo.sharing.notifications import notify_decision
from ml.checklist import EMERGENCY_PROTECTION, NO_CONCERN, PROTECTION_BEFORE_NEXT_INCIDENT
from ml.features import assessment_items
from ml.live_scoring import REPORT_FIELDS, items_contract, report_contract

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

#: The report part of the form, in display order.
FORM_FIELDS = ("received_at", "route", "abuse_types", "child_name", "child_kana", "birth_date", "sex",
               "address_municipality_code")
ENTER_INTAKE, UPDATE_INTAKE, CONFIRM_CHILD = "enter_intake", "update_intake", "confirm_child"
VIEW_REVIEW_QUEUE, REVIEW_DECISION = "view_review_queue", "review_decision"
REPORT_PREFIX, CHILD_PREFIX, NUMBER_DIGITS = "APP", "APPC", 6
JAPAN = dt.timezone(dt.timedelta(hours=9), "JST")  # the feeds' datetimes are Japan time (source-feeds.md §3)
UNKNOWN = "unknown"
_IDENTITY = ("child_name", "child_kana", "birth_date", "sex")  # a change to these undoes the child's confirmation

#: What staff record as the outcome of an intake, and the contract's worker_decision each one is. From the CGC
#: guidelines' 援助 options and the municipalities' 要保護児童対策 practice:
#: temporary_protection 一時保護; placement 施設入所措置・里親委託; home_guidance 在宅指導 (助言・継続指導、
#: 児童福祉司指導、要対協での支援); referral_to_municipality 市町村送致; referral_to_cgc 児童相談所送致 (the CGC
#: then decides on protection, so undecided here); other_agency 他機関紹介; advice_closed 助言終了;
#: continued_investigation 調査継続.
DISPOSITION_DECISIONS = {
    "temporary_protection": "protect",
    "placement": "protect",
    "home_guidance": "no_protect",
    "referral_to_municipality": "no_protect",
    "referral_to_cgc": "undecided",
    "other_agency": "no_protect",
    "advice_closed": "no_protect",
    "continued_investigation": "undecided",
}
DISPOSITIONS = tuple(DISPOSITION_DECISIONS)
AGAINST_BAND, OVERRIDES_CHECKLIST = "against_band", "overrides_checklist"
DECIDED, IN_REVIEW, RETURNED, CONFIRMED = "decided", "in_review", "returned", "confirmed"


class EntryInvalid(ValueError):
    """A form with bad values: ``errors`` maps each bad field (a FORM_FIELDS name, ``agency_id`` or an assessment
    item) to one line naming the rule and the value."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class StaleEdit(Exception):
    """The intake was saved by someone else since this user opened it: nothing was saved."""

    def __init__(self, agency_id: str, report_id: str, opened: int, current: int, changed_by: str,
                 changed_at: dt.datetime):
        self.current_version, self.changed_by, self.changed_at = current, changed_by, changed_at
        super().__init__(f"intake {agency_id}/{report_id} was changed by {changed_by} at "
                         f"{_japan(changed_at):%Y-%m-%d %H:%M:%S} since you opened it (version {opened}, now "
                         f"{current}); reload it: nothing was saved")


@dataclass(frozen=True)
class IntakeEntry:
    """A valid report and assessment as the contracts type them (codes lower-case, kana folded)."""
    agency_id: str
    received_at: dt.datetime  # Japan time
    route: str
    abuse_types: tuple[str, ...]
    child_name: str
    child_kana: str
    birth_date: dt.date
    sex: str
    address_municipality_code: str
    items: Mapping[str, str]  # every assessment item -> code

    def typed_row(self, report_id: str) -> dict:
        """The intake as ``ml.live_scoring.validate`` types a valid input line: contract column -> value."""
        separator = contract("case_reports").column("abuse_types").separator
        report = {"agency_id": self.agency_id, "report_id": report_id, "received_at": pd.Timestamp(self.received_at),
                  "route": self.route, "abuse_types": separator.join(self.abuse_types),
                  "child_name": self.child_name, "child_kana": self.child_kana,
                  "birth_date": pd.Timestamp(self.birth_date), "sex": self.sex,
                  "address_municipality_code": self.address_municipality_code}
        return {**{column: report[column] for column in REPORT_FIELDS.values()},
                **{item: self.items[item] for item in _item_names()}}


@dataclass(frozen=True)
class StoredIntake:
    agency_id: str
    report_id: str
    version: int
    entry: IntakeEntry
    local_child_id: str  # the agency's ID for the child in its app deliveries
    person_key: str | None
    match: str | None  # 'existing' | 'new'; None until the worker confirms the child
    entered_by: str
    entered_at: dt.datetime
    updated_at: dt.datetime


def _item_names() -> list[str]:
    return [c.name for c in assessment_items()]


def _japan(at: dt.datetime) -> dt.datetime:
    """A database time (aware, or naive UTC from SQLite) in Japan time."""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(JAPAN)


# --- checking a form

def _raw_text(field: str, value: object, separator: str) -> str:
    if value is None:
        return ""
    if field == "abuse_types" and isinstance(value, (list, tuple)):
        return separator.join(str(v) for v in value)
    if isinstance(value, (dict, list, tuple, set, bool)):
        raise EntryInvalid({field: f"{field}: expected a single value, not {value!r}"})
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _message(field: str, rule: str, value: str) -> str:
    text = f"{field}: {rule.replace('_', ' ')}" + (f" ({value!r})" if value else "")
    if rule == "invalid_code":
        codes = next(c.codes for c in (*report_contract().columns, *items_contract().columns) if c.name == field)
        text += f"; one of {', '.join(codes)}"
    return text


def check_entry(agency_id: str, raw: Mapping[str, object], agencies: Collection[str]) -> IntakeEntry:
    """The form's values (strings; ``abuse_types`` may be a list; an item left out is ``unknown``) checked by the
    contracts' row checks, with today (Japan) as the delivery date: a future date is refused. Raises
    ``EntryInvalid`` naming every bad field."""
    items = _item_names()
    separator = contract("case_reports").column("abuse_types").separator
    unknown = sorted(set(raw) - set(FORM_FIELDS) - set(items))
    if unknown:
        raise EntryInvalid({name: f"{name}: not a field of the intake form" for name in unknown})
    text = {"agency_id": agency_id, "report_id": REPORT_PREFIX}
    errors: dict[str, str] = {}
    for field in (*FORM_FIELDS, *items):
        try:
            text[field] = _raw_text(field, raw.get(field), separator)
        except EntryInvalid as bad:
            errors |= bad.errors
    for item in items:
        text[item] = text.get(item) or UNKNOWN
    frame = pd.DataFrame([{field: text.get(field, "") for field in (*REPORT_FIELDS.values(), *items)}])
    today = pd.Series([pd.Timestamp(dt.datetime.now(JAPAN).date())], dtype="datetime64[s]")
    known = frozenset(agencies)
    reports = check_rows(report_contract(), frame[list(REPORT_FIELDS.values())], today, known)
    assessed = check_rows(items_contract(), frame[items], None, known)
    for violations in (reports.violations[0], assessed.violations[0]):
        if pd.isna(violations):
            continue
        for violation in violations.split(";"):
            column, rule = violation.split(":")
            errors.setdefault(column, _message(column, rule, frame.at[0, column]))
    if errors:
        raise EntryInvalid(errors)
    values = {**reports.values.iloc[0].to_dict(), **assessed.values.iloc[0].to_dict()}
    return IntakeEntry(
        agency_id=values["agency_id"], received_at=values["received_at"].to_pydatetime(), route=values["route"],
        abuse_types=tuple(values["abuse_types"].split(separator)), child_name=values["child_name"],
        child_kana=values["child_kana"], birth_date=values["birth_date"].date(), sex=values["sex"],
        address_municipality_code=values["address_municipality_code"], items={i: values[i] for i in items})


# --- storing intakes

def _entry_columns(entry: IntakeEntry) -> dict:
    separator = contract("case_reports").column("abuse_types").separator
    return {"received_at": entry.received_at, "route": entry.route, "abuse_types": separator.join(entry.abuse_types),
            "child_name": entry.child_name, "child_kana": entry.child_kana, "birth_date": entry.birth_date,
            "sex": entry.sex, "address_municipality_code": entry.address_municipality_code,
            "items": json.dumps(dict(entry.items), ensure_ascii=False, sort_keys=True)}


def stored_from(row: RowMapping) -> StoredIntake:
    separator = contract("case_reports").column("abuse_types").separator
    entry = IntakeEntry(row["agency_id"], row["received_at"], row["route"], tuple(row["abuse_types"].split(separator)),
                        row["child_name"], row["child_kana"], row["birth_date"], row["sex"],
                        row["address_municipality_code"], json.loads(row["items"]))
    return StoredIntake(row["agency_id"], row["report_id"], row["version"], entry, row["local_child_id"],
                        row["person_key"], row["match"], row["entered_by"], row["entered_at"], row["updated_at"])


def _require_own_agency(user: Account, agency_id: str, agencies: Mapping[str, Agency]) -> None:
    require_role(user, *DECIDING_ROLES)
    if not in_jurisdiction(user, agency_id, agencies) or user.agency_id != agency_id:
        raise AccessDenied(f"user {user.user_id} of agency {user.agency_id} may enter and change only the intakes "
                           f"of agency {user.agency_id}, not of {agency_id}")


def _number(prefix: str, sequence: int) -> str:
    return f"{prefix}{sequence:0{NUMBER_DIGITS}d}"


def _row(con: Connection, agency_id: str, report_id: str) -> RowMapping:
    row = con.execute(select(app_intakes).where(app_intakes.c.agency_id == agency_id,
                                                app_intakes.c.report_id == report_id)).one_or_none()
    if row is None:
        raise LookupError(f"no intake {agency_id}/{report_id} was entered in the app")
    return row._mapping


def enter_intake(engine, user: Account, entry: IntakeEntry, agencies: Mapping[str, Agency]) -> StoredIntake:
    """Store a new intake of the user's agency under its next report number, with its audit row."""
    _require_own_agency(user, entry.agency_id, agencies)
    with audited(engine) as transaction:
        con = transaction.con
        last = con.scalar(select(func.max(app_intakes.c.sequence)).where(app_intakes.c.agency_id == entry.agency_id))
        sequence = (last or 0) + 1
        report_id = _number(REPORT_PREFIX, sequence)
        con.execute(insert(app_intakes).values(
            agency_id=entry.agency_id, report_id=report_id, sequence=sequence, version=1, **_entry_columns(entry),
            local_child_id=_number(CHILD_PREFIX, sequence), entered_by=user.user_id, entered_at=transaction.now,
            updated_by=user.user_id, updated_at=transaction.now))
        transaction.log(AccessEntry(user.user_id, user.role, ENTER_INTAKE, entry.agency_id, report_id))
        return stored_from(_row(con, entry.agency_id, report_id))


def _save(transaction: AuditedTransaction, user: Account, agency_id: str, report_id: str, expected_version: int,
          changes: dict, action: str, person_key: str | None = None) -> StoredIntake:
    """Apply ``changes`` to the intake if it is still at ``expected_version``; else ``StaleEdit``."""
    con = transaction.con
    current = _row(con, agency_id, report_id)
    if current["version"] != expected_version:
        raise StaleEdit(agency_id, report_id, expected_version, current["version"], current["updated_by"],
                        current["updated_at"])
    saved = con.execute(update(app_intakes).where(
        app_intakes.c.agency_id == agency_id, app_intakes.c.report_id == report_id,
        app_intakes.c.version == expected_version).values(
        **changes, version=expected_version + 1, updated_by=user.user_id, updated_at=transaction.now))
    if saved.rowcount != 1:  # the lock makes this unreachable; a lost update must still never pass silently
        raise StaleEdit(agency_id, report_id, expected_version, expected_version + 1, "another user", transaction.now)
    transaction.log(AccessEntry(user.user_id, user.role, action, agency_id, report_id, person_key,
                                detail=f"version {expected_version + 1}"))
    return stored_from(_row(con, agency_id, report_id))


def update_intake(engine, user: Account, agency_id: str, report_id: str, expected_version: int, entry: IntakeEntry,
                  agencies: Mapping[str, Agency]) -> StoredIntake:
    """Save a changed report and assessment over the version the user opened (``StaleEdit`` if it changed)."""
    _require_own_agency(user, agency_id, agencies)
    if entry.agency_id != agency_id:
        raise AccessDenied(f"intake {agency_id}/{report_id} cannot be saved as agency {entry.agency_id}'s")
    changes = _entry_columns(entry)
    with audited(engine) as transaction:
        current = _row(transaction.con, agency_id, report_id)
        if any(changes[c] != current[c] for c in _IDENTITY):
            sequence = current["sequence"]
            changes |= {"person_key": None, "match": None, "local_child_id": _number(CHILD_PREFIX, sequence)}
        return _save(transaction, user, agency_id, report_id, expected_version, changes, UPDATE_INTAKE)


def confirm_child(engine, user: Account, agency_id: str, report_id: str, expected_version: int, person_key: str,
                  match: str, agencies: Mapping[str, Agency]) -> StoredIntake:
    """Record the child the worker confirmed: an ``existing`` child (the identified ``person_key``) or a ``new``
    one. The child keeps the ID of the agency's earlier app intake confirmed as the same child."""
    _require_own_agency(user, agency_id, agencies)
    if match not in MATCHES:
        raise ValueError(f"match must be one of {', '.join(MATCHES)}, not {match!r}")
    if not (person_key or "").strip():
        raise ValueError("person_key: required to confirm the child")
    with audited(engine) as transaction:
        con = transaction.con
        current = _row(con, agency_id, report_id)
        earlier = con.scalar(select(app_intakes.c.local_child_id).where(
            app_intakes.c.agency_id == agency_id, app_intakes.c.person_key == person_key,
            app_intakes.c.report_id != report_id).order_by(app_intakes.c.sequence).limit(1))
        local_child_id = earlier or _number(CHILD_PREFIX, current["sequence"])
        return _save(transaction, user, agency_id, report_id, expected_version,
                     {"person_key": person_key, "match": match, "local_child_id": local_child_id}, CONFIRM_CHILD,
                     person_key)


def stored_intake(engine, user: Account, agency_id: str, report_id: str,
                  agencies: Mapping[str, Agency]) -> StoredIntake:
    """One app-entered intake of the user's jurisdiction, audited (``view_intake``) before it is returned."""
    require_role(user, *DECIDING_ROLES)
    if not in_jurisdiction(user, agency_id, agencies):
        raise AccessDenied(f"intake {agency_id}/{report_id} is outside your jurisdiction")
    with audited(engine) as transaction:
        row = _row(transaction.con, agency_id, report_id)
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_INTAKE, agency_id, report_id, row["person_key"]))
        return stored_from(row)


def entered_intakes(engine, user: Account, agencies: Mapping[str, Agency]) -> list[StoredIntake]:
    """The app-entered intakes of the user's jurisdiction, newest first. Not audited: a work queue, which the
    pages show without names; opening one (``stored_intake``) is audited."""
    require_role(user, *DECIDING_ROLES)
    shared = [a for a in agencies if in_jurisdiction(user, a, agencies)]
    query = (select(app_intakes).where(app_intakes.c.agency_id.in_(shared))
             .order_by(app_intakes.c.entered_at.desc(), app_intakes.c.agency_id, app_intakes.c.sequence.desc()))
    with engine.connect() as con:
        return [stored_from(row._mapping) for row in con.execute(query)]


# --- decisions and their review

def worker_decision_of(disposition: str) -> str:
    try:
        return DISPOSITION_DECISIONS[disposition]
    except KeyError:
        raise InvalidDecision(f"disposition must be one of {', '.join(DISPOSITIONS)}, not {disposition!r}") from None


def review_reasons(decision: str, band: str | None, checklist_verdict: int | None) -> tuple[str, ...]:
    """Why a decision goes to the supervisor, in this order:

    - ``against_band``: not protecting an intake the model puts in the ``high`` band, or protecting one in the
      ``low`` band (below the base rate); ``medium`` and no score send nothing;
    - ``overrides_checklist``: not protecting when the official sheet says protection (emergency protection, or
      protection before the next incident: ``ml.checklist`` 3 or 2), or protecting when it answered no question
      (0). Intensive support (1) leaves either decision to the worker.

    ``undecided`` goes against neither."""
    reasons = []
    if (band == "high" and decision == "no_protect") or (band == "low" and decision == "protect"):
        reasons.append(AGAINST_BAND)
    says_protect = checklist_verdict in (EMERGENCY_PROTECTION, PROTECTION_BEFORE_NEXT_INCIDENT)
    if (says_protect and decision == "no_protect") or (checklist_verdict == NO_CONCERN and decision == "protect"):
        reasons.append(OVERRIDES_CHECKLIST)
    return tuple(reasons)


def record_decision(engine, user: Account, decision: WorkerDecision, band: str | None,
                    agencies: Mapping[str, Agency], *, holders: Collection[str] = ()) -> int:
    """Store the user's own decision on an intake of the jurisdiction with its audit row, when ``review_reasons``
    gives any its pending review, and the notifications of the other agencies holding the child (``holders``, the
    warehouse's ``load_holdings``, and those keeping a case record), in one transaction; the decision's ID.
    ``band`` is the band shown (None: no score). A disposition must map to the decision; ``amends`` must name an
    earlier decision on the same intake."""
    require_own_decision(user, decision, agencies)
    if band is not None and band not in BANDS:
        raise InvalidDecision(f"band must be one of {', '.join(BANDS)}, not {band!r}")
    if decision.band is not None and decision.band != band:
        raise InvalidDecision(f"the decision's band {decision.band!r} is not the band shown {band!r}")
    if decision.disposition is not None and worker_decision_of(decision.disposition) != decision.decision:
        raise InvalidDecision(f"disposition {decision.disposition} is decision "
                              f"{worker_decision_of(decision.disposition)}, not {decision.decision}")
    reasons = review_reasons(decision.decision, band, decision.checklist_verdict)
    with audited(engine) as transaction:
        con = transaction.con
        if decision.amends is not None:
            amended = con.execute(select(worker_decisions.c.agency_id, worker_decisions.c.report_id)
                                  .where(worker_decisions.c.id == decision.amends)).one_or_none()
            if amended is None or tuple(amended) != (decision.agency_id, decision.report_id):
                raise InvalidDecision(f"decision {decision.amends} is not a decision on intake "
                                      f"{decision.agency_id}/{decision.report_id}: it cannot be amended here")
        decision_id = store_decision(transaction, replace(decision, band=band), user.role)
        notify_decision(transaction, decision, decision_id, holders)
        if reasons:
            con.execute(insert(decision_reviews).values(decision_id=decision_id, agency_id=decision.agency_id,
                                                        report_id=decision.report_id, reasons=";".join(reasons)))
        return decision_id


@dataclass(frozen=True)
class ReviewItem:
    decision_id: int
    agency_id: str
    report_id: str
    worker_id: str
    decided_at: dt.datetime
    decision: str
    disposition: str | None
    rationale: str
    risk_score_shown: float | None
    band: str | None
    checklist_verdict: int | None
    reasons: tuple[str, ...]


def _latest_decisions():
    """The ID of each intake's latest decision (a later one supersedes an earlier one and its review)."""
    return (select(func.max(worker_decisions.c.id).label("id"))
            .group_by(worker_decisions.c.agency_id, worker_decisions.c.report_id).subquery())


def review_queue(engine, supervisor: Account, agencies: Mapping[str, Agency]) -> list[ReviewItem]:
    """Pending reviews of the supervisor's jurisdiction (the intakes' latest decisions, not the supervisor's own),
    oldest first; audited (``view_review_queue``) in the transaction that reads them."""
    require_role(supervisor, SUPERVISOR)
    shared = [a for a in agencies if in_jurisdiction(supervisor, a, agencies)]
    d, r, latest = worker_decisions, decision_reviews, _latest_decisions()
    query = (select(d.c.id, d.c.agency_id, d.c.report_id, d.c.worker_id, d.c.decided_at, d.c.decision,
                    d.c.disposition, d.c.rationale, d.c.risk_score_shown, d.c.band, d.c.checklist_verdict, r.c.reasons)
             .join(r, r.c.decision_id == d.c.id).join(latest, latest.c.id == d.c.id)
             .where(r.c.outcome.is_(None), r.c.agency_id.in_(shared), d.c.worker_id != supervisor.user_id)
             .order_by(d.c.id))
    with audited(engine) as transaction:
        transaction.log(AccessEntry(supervisor.user_id, supervisor.role, VIEW_REVIEW_QUEUE, supervisor.agency_id))
        return [ReviewItem(*row[:-1], tuple(row[-1].split(";"))) for row in transaction.con.execute(query)]


def review(engine, supervisor: Account, decision_id: int, outcome: str, comment: str,
           agencies: Mapping[str, Agency]) -> None:
    """The supervisor confirms a decision in review or returns it with a comment; once, audited."""
    require_role(supervisor, SUPERVISOR)
    if outcome not in REVIEW_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(REVIEW_OUTCOMES)}, not {outcome!r}")
    comment = (comment or "").strip()
    if outcome == RETURNED and not comment:
        raise ValueError("a returned decision needs a comment saying why")
    with audited(engine) as transaction:
        con = transaction.con
        row = con.execute(select(decision_reviews, worker_decisions.c.worker_id)
                          .join(worker_decisions, worker_decisions.c.id == decision_reviews.c.decision_id)
                          .where(decision_reviews.c.decision_id == decision_id)).one_or_none()
        if row is None:
            raise LookupError(f"decision {decision_id} is not in review")
        if not in_jurisdiction(supervisor, row.agency_id, agencies):
            raise AccessDenied(f"decision {decision_id} on intake {row.agency_id}/{row.report_id} is outside your "
                               "jurisdiction")
        if row.worker_id == supervisor.user_id:
            raise AccessDenied(f"decision {decision_id} is your own: another supervisor reviews it")
        done = con.execute(update(decision_reviews).where(decision_reviews.c.decision_id == decision_id,
                                                          decision_reviews.c.outcome.is_(None))
                           .values(outcome=outcome, reviewer_id=supervisor.user_id, reviewed_at=transaction.now,
                                   comment=comment or None))
        if done.rowcount != 1:
            raise InvalidDecision(f"decision {decision_id} was already reviewed ({row.outcome} by "
                                  f"{row.reviewer_id}): it is reviewed once")
        transaction.log(AccessEntry(supervisor.user_id, supervisor.role, REVIEW_DECISION, row.agency_id,
                                    row.report_id, detail=f"decision {decision_id}: {outcome}"))


def decision_history(engine, agency_id: str, report_id: str) -> list[dict]:
    """The intake's decisions, oldest first, each with its disposition, what it amends and its review
    (``review``: None when it needed none, else pending / confirmed / returned; ``reasons``, ``comment``,
    ``reviewer_id``, ``reviewed_at``)."""
    d, r = worker_decisions, decision_reviews
    query = (select(d, r.c.reasons, r.c.outcome, r.c.comment, r.c.reviewer_id, r.c.reviewed_at)
             .outerjoin(r, r.c.decision_id == d.c.id)
             .where(d.c.agency_id == agency_id, d.c.report_id == report_id).order_by(d.c.id))
    with engine.connect() as con:
        history = []
        for row in con.execute(query):
            item = dict(row._mapping)
            reasons, outcome = item.pop("reasons"), item.pop("outcome")
            item["reasons"] = tuple(reasons.split(";")) if reasons else ()
            item["review"] = None if reasons is None else outcome or "pending"
            history.append(item)
        return history


def decision_status(engine, agency_id: str) -> dict[str, str]:
    """report_id -> the status of its latest decision: decided (no review needed), in_review, returned or
    confirmed; an intake without a decision is absent."""
    d, r, latest = worker_decisions, decision_reviews, _latest_decisions()
    query = (select(d.c.report_id, r.c.decision_id, r.c.outcome).join(latest, latest.c.id == d.c.id)
             .outerjoin(r, r.c.decision_id == d.c.id).where(d.c.agency_id == agency_id))
    with engine.connect() as con:
        return {report: DECIDED if review_id is None else outcome or IN_REVIEW
                for report, review_id, outcome in con.execute(query)}
