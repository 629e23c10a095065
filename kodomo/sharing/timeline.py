"""One child's timeline across agencies (``marts.child_timeline``) and the gaps in it that a caseworker must see.

The timeline is the rows of the agencies a ``Grant`` opened, each event with the agency whose record holds it,
the feed it came from and when the platform could know it; ``with_scores_and_decisions`` adds, for the reports among
them, the model's probability (``ml.intake_scores``, known when scored) and each decision a worker recorded in the
app (the operational store's ``worker_decisions``, known when recorded). The gaps are pure functions over the rows:

- a move out to a municipality of the region with no move-in recorded there (the destination's record is the
  one that should follow the child);
- a move in from a municipality of the region with no move-out recorded there;
- a report whose child was not seen within 48 hours of receipt (not at all, or only later);
- a checkup the child did not attend, with no attended checkup on or after that date.

A move pairs with its counterpart as ``int_resident_moves_paired`` pairs them: the same origin and destination,
dated within a month of each other. A gap that rests on the records of an agency the user could not open (a holder
outside the grant) is not claimed: those records may hold what is missing here.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace

import duckdb
from sqlalchemy import Engine, select, tuple_

from kodomo.appdata.access import Agency, Grant
from kodomo.appdata.warehouse import table_exists
from kodomo.intake_entries import JAPAN
from kodomo.operational import worker_decisions
from ml.store import INTAKE_SCORES

TIMELINE = "marts.child_timeline"
SAFETY_CHECK = dt.timedelta(hours=48)  # the national rule: the child is seen within 48 hours of the report
MOVE_PAIR_DAYS = 31  # a move out and a move in this close, between the same municipalities, are one move
MOVE_IN_MISSING, MOVE_OUT_MISSING = "move_in_missing", "move_out_missing"
SAFETY_NOT_CONFIRMED, SAFETY_LATE, CHECKUP_NOT_MADE_UP = "safety_not_confirmed", "safety_late", "checkup_not_made_up"
GAP_KINDS = (MOVE_IN_MISSING, MOVE_OUT_MISSING, SAFETY_NOT_CONFIRMED, SAFETY_LATE, CHECKUP_NOT_MADE_UP)


@dataclass(frozen=True)
class TimelineEvent:
    """One event of the child, as the agency's record holds it. Detail fields are set for their event types."""
    sequence: int
    at: dt.datetime  # when it happened
    known_at: dt.datetime  # when the platform could know it
    event_type: str
    agency_id: str  # the agency whose record holds it
    source_feed: str
    source_id: str | None = None
    report_id: str | None = None
    route: str | None = None
    abuse_types: str | None = None
    substantiation: str | None = None
    worker_decision: str | None = None
    checkup_type: str | None = None
    checkup_status: str | None = None
    checkup_result: str | None = None
    vaccine: str | None = None
    dose: int | None = None
    from_municipality_code: str | None = None
    to_municipality_code: str | None = None
    alert_type: str | None = None
    destination_agency_id: str | None = None
    risk_score: float | None = None  # a score's calibrated probability
    model_version: str | None = None  # the model that gave it
    worker_id: str | None = None  # who recorded an app decision
    disposition: str | None = None  # what they recorded (kodomo.intake_entries.DISPOSITIONS)


_COLUMNS = {"sequence": "event_sequence", "at": "event_at"}
_APP_ONLY = ("risk_score", "model_version", "worker_id", "disposition")
_SELECTED = ", ".join(_COLUMNS.get(f.name, f.name) for f in fields(TimelineEvent) if f.name not in _APP_ONLY)
RISK_SCORE, APP_DECISION = "risk_score", "app_decision"


def child_timeline(con: duckdb.DuckDBPyConnection, grant: Grant) -> list[TimelineEvent]:
    """The events of the child held by the agencies the grant opened, oldest first. The grant was audited when
    it was made (``kodomo.appdata.access.open_child``)."""
    if grant.person_key is None:
        raise ValueError(f"grant of user {grant.user_id} names no child")
    rows = con.execute(f"""
        select {_SELECTED} from {TIMELINE}
        where person_key = $key and list_contains($agencies, agency_id)
        order by event_sequence""", {"key": grant.person_key, "agencies": list(grant.agencies)}).fetchall()
    return [TimelineEvent(*row) for row in rows]


def with_scores_and_decisions(con: duckdb.DuckDBPyConnection, store: Engine,
                              events: Sequence[TimelineEvent]) -> list[TimelineEvent]:
    """The events with, for each report among them, its score and the decisions recorded in the app, in time order
    (new events are numbered after the timeline's own)."""
    reports = {(e.agency_id, e.report_id): e for e in events if e.event_type == "report_received"}
    if not reports:
        return list(events)
    wanted = {"agencies": [a for a, _ in reports], "reports": [r for _, r in reports]}
    added = []
    if table_exists(con, INTAKE_SCORES):
        for agency_id, report_id, score, version, scored_at in con.execute(f"""
                select agency_id, report_id, risk_score, model_version, scored_at from {INTAKE_SCORES}
                inner join (select unnest($agencies) as agency_id, unnest($reports) as report_id) using (agency_id, report_id)
                """, wanted).fetchall():
            report = reports[(agency_id, report_id)]
            added.append(replace(report, event_type=RISK_SCORE, known_at=max(scored_at, report.known_at),
                                 source_feed="ml", risk_score=score, model_version=version))
    decided = worker_decisions.c
    with store.connect() as read:
        rows = read.execute(select(decided.agency_id, decided.report_id, decided.decided_at, decided.decision,
                                   decided.disposition, decided.worker_id, decided.risk_score_shown,
                                   decided.model_version)
                            .where(tuple_(decided.agency_id, decided.report_id).in_(list(reports)))
                            .order_by(decided.id)).all()
    for agency_id, report_id, decided_at, decision, disposition, worker_id, shown, version in rows:
        at = _japan_time(decided_at)
        added.append(replace(reports[(agency_id, report_id)], event_type=APP_DECISION, at=at, known_at=at,
                             source_feed="app", worker_decision=decision, disposition=disposition,
                             worker_id=worker_id, risk_score=shown, model_version=version))
    last = max((e.sequence for e in events), default=0)
    added = [replace(e, sequence=last + i) for i, e in enumerate(sorted(added, key=lambda e: (e.at, e.known_at)), 1)]
    return sorted([*events, *added], key=lambda e: (e.at, e.known_at, e.sequence))


def _japan_time(at: dt.datetime) -> dt.datetime:
    """A store time (aware, or naive UTC from SQLite) as the marts keep times: naive Japan time."""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(JAPAN).replace(tzinfo=None)


@dataclass(frozen=True)
class Gap:
    """Something that should be on record and is not; ``event`` is the record it follows from."""
    kind: str  # one of GAP_KINDS
    event: TimelineEvent
    agency_id: str  # whose record shows it
    other_agency_id: str | None  # where the missing record should be (a move's other municipality)
    since: dt.datetime  # when it became a gap: the move, the safety-check deadline, the missed checkup
    resolved_at: dt.datetime | None = None  # a safety check done late


def _in_region(code: str | None, agencies: Mapping[str, Agency]) -> bool:
    return code is not None and code in agencies


def _paired(move: TimelineEvent, others: Iterable[TimelineEvent]) -> bool:
    return any(o.from_municipality_code == move.from_municipality_code
               and o.to_municipality_code == move.to_municipality_code
               and abs((o.at.date() - move.at.date()).days) <= MOVE_PAIR_DAYS for o in others)


def _move_gaps(events: Sequence[TimelineEvent], agencies: Mapping[str, Agency],
               unseen: Collection[str]) -> list[Gap]:
    outs = [e for e in events if e.event_type == "move_out"]
    ins = [e for e in events if e.event_type == "move_in"]
    found = []
    for move in outs:
        where = move.to_municipality_code
        if _in_region(where, agencies) and where not in unseen and not _paired(move, ins):
            found.append(Gap(MOVE_IN_MISSING, move, move.agency_id, where, move.at))
    for move in ins:
        where = move.from_municipality_code
        if _in_region(where, agencies) and where not in unseen and not _paired(move, outs):
            found.append(Gap(MOVE_OUT_MISSING, move, move.agency_id, where, move.at))
    return found


def _safety_gaps(events: Sequence[TimelineEvent], as_of: dt.datetime) -> list[Gap]:
    confirmed: dict[tuple[str, str | None], dt.datetime] = {}
    for e in events:
        if e.event_type == "safety_confirmed":
            key = (e.agency_id, e.report_id)
            confirmed[key] = min(e.at, confirmed.get(key, e.at))
    found = []
    for report in (e for e in events if e.event_type == "report_received"):
        deadline = report.at + SAFETY_CHECK
        seen = confirmed.get((report.agency_id, report.report_id))
        if seen is None and as_of > deadline:
            found.append(Gap(SAFETY_NOT_CONFIRMED, report, report.agency_id, None, deadline))
        elif seen is not None and seen > deadline:
            found.append(Gap(SAFETY_LATE, report, report.agency_id, None, deadline, resolved_at=seen))
    return found


def _checkup_gaps(events: Sequence[TimelineEvent]) -> list[Gap]:
    attended = [e.at for e in events if e.event_type == "checkup_attended"]
    return [Gap(CHECKUP_NOT_MADE_UP, e, e.agency_id, None, e.at) for e in events
            if e.event_type == "checkup_no_show" and not any(at >= e.at for at in attended)]


def gaps(events: Sequence[TimelineEvent], agencies: Mapping[str, Agency], *, as_of: dt.datetime | None = None,
         unseen: Collection[str] = ()) -> list[Gap]:
    """The gaps in one child's events, in time order.

    ``agencies`` is the region (a municipality outside it keeps no record here, so its side of a move is not
    missing). ``as_of`` is when the records are read (default: the latest event known): a report younger than
    48 hours is not yet a gap. ``unseen`` are the agencies holding records of the child that the user could not
    open: a move whose other side is theirs is not claimed."""
    if not events:
        return []
    as_of = as_of or max(e.known_at for e in events)
    found = _move_gaps(events, agencies, unseen) + _safety_gaps(events, as_of) + _checkup_gaps(events)
    return sorted(found, key=lambda g: (g.since, g.event.sequence, g.kind))
