"""Notices about a child between agencies (issue 11): moved, missing and found, sent from the child's record in the
app or delivered through the ``alerts`` feed, acknowledged by each receiver and escalated when they are not.

One list, two sources. A notice made in the app is a row of ``notices`` with one ``notice_recipients`` row per
receiving agency (its acknowledgement); a notice of the ``alerts`` feed is an ``alert_*`` event of
``marts.child_timeline``, its receivers are worked out here by the same rules, and their acknowledgements are rows of
``feed_notice_acks``. Both become ``Notice``s with a ``ref``: ``app:<id>`` or ``feed:<agency_id>:<alert_id>``. A
notice made in the app also becomes data: the next run delivers it as its agency's alerts row ``APPN<id>``
(``kodomo.ingest.app_deliveries``), which is then the same notice and is not listed twice.

Who receives a notice (``recipients_for``; the sender's own agency never does):
- moved: the destination municipality and the CGC covering it (a feed notice addressed to a CGC: that CGC);
- missing: every CGC, and the municipality of the child's last address. The last address is the newest known
  ``address_municipality_code``: the sender's case record's when the sender keeps one (what the worker knows now),
  else the marts' newest of the reports' addresses (``marts.case_history``) and the moves' destinations
  (``marts.child_timeline`` move rows), by when they happened; a feed notice's is the marts' as of its issue;
- found: closes an open missing notice of the child and goes to that notice's receivers and its sender. A found
  notice of the feed closes the child's earliest open missing notice issued before it; one that closes none goes
  where a missing notice would have gone.

A notice carries its essentials, what a receiver needs to act without calling back: the child's birth year-month
and sex, the sending agency and worker, the open case (reports in the 365 days up to the notice, the latest report's
date), for a notice made in the app the sender's case record's address, institutions, worker in charge and plan
status, and a moved notice's destination. Names are not among them (the receiver finds the child through its
record), nor free text other than the summary. The feed's own summary is free text that the marts do not carry, so
a feed notice's summary is empty.

A receipt is overdue when it is still unacknowledged ``ESCALATE_AFTER`` after the notice was sent (a feed notice:
after it was on record, its ``known_at``); ``escalations`` lists such notices to the supervisors of the sender and of
the receiver that has not acknowledged.

A notice made in the app names the child by its person key and by one of its records (the anchor), which outlives
a run's keys: it is read under the key the anchor's record has now. Every send, acknowledgement and list is an audit
row, written in the transaction that makes or reads the notices, before anything is returned.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import duckdb
from sqlalchemy import Connection, Engine, insert, select, update

from kodomo.appdata.access import (CGC, DECIDING_ROLES, MUNICIPALITY, AccessDenied, Agency, Grant, in_jurisdiction,
                                   load_agencies, load_holdings, require_role)
from kodomo.appdata.accounts import Account
from kodomo.dbt_sources import project_var
from kodomo.health.record import NoHealthRecord, data_end
from kodomo.intake_entries import JAPAN
from kodomo.operational import (NOTICE_KINDS, SUPERVISOR, AccessEntry, audited, case_records, feed_notice_acks,
                                notice_recipients, notices)
from kodomo.sharing.anchors import anchor_of, current_keys
from kodomo.sharing.notifications import notify

ESCALATE_AFTER = dt.timedelta(days=3)
APP_ALERT_PREFIX = "APPN"  # the alert_id of an app notice delivered as its agency's alerts feed row
MOVED, MISSING, FOUND = NOTICE_KINDS
APP, FEED = "app", "feed"
NONE, SENT, ACKNOWLEDGED = "none", "sent", "acknowledged"
SEND_NOTICE, ACKNOWLEDGE_NOTICE, VIEW_NOTICES = "send_notice", "acknowledge_notice", "view_notices"
VIEW_ESCALATIONS, VIEW_TRANSFER_WORKLIST = "view_escalations", "view_transfer_worklist"


class InvalidNotice(ValueError):
    """A notice that cannot be sent or acknowledged as asked; the message names what is wrong."""


@dataclass(frozen=True)
class Receipt:
    agency_id: str
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    overdue: bool  # unacknowledged for more than ESCALATE_AFTER as of the time asked


@dataclass(frozen=True)
class Notice:
    ref: str  # "app:<id>" or "feed:<agency_id>:<alert_id>"
    source: str  # app | feed
    kind: str  # moved | missing | found
    person_key: str
    from_agency_id: str
    sent_by: str | None  # the worker (None for feed notices)
    sent_at: dt.datetime
    destination_municipality_code: str | None
    summary: str
    essentials: dict
    recipients: tuple[Receipt, ...]
    closes: str | None  # a found notice's missing notice
    closed_by: str | None  # a missing notice's found notice, once found

    def receipt(self, agency_id: str) -> Receipt | None:
        return next((r for r in self.recipients if r.agency_id == agency_id), None)

    @property
    def overdue(self) -> bool:
        return any(r.overdue for r in self.recipients)


@dataclass(frozen=True)
class TransferRow:
    person_key: str
    move_date: dt.date
    from_municipality_code: str
    to_municipality_code: str
    destination_cgc_id: str | None
    open_case_report_count: int
    last_report_agency_id: str | None
    notice: str  # none | sent | acknowledged


def app_alert_id(notice_id: int) -> str:
    """The ``alert_id`` under which an app notice is delivered in its agency's alerts feed
    (``kodomo.ingest.app_deliveries``)."""
    return f"{APP_ALERT_PREFIX}{notice_id:06d}"


# --- times: the store keeps UTC (SQLite: naive), the feeds and marts Japan time (naive)

def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


def _japan(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=JAPAN) if at.tzinfo is None else at


def _japan_naive(at: dt.datetime) -> dt.datetime:
    """An aware time as the marts write it: Japan time without a zone."""
    return _utc(at).astimezone(JAPAN).replace(tzinfo=None)


def _now(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else _utc(now)


# --- who

def _worker_agency(user: Account, agencies: Mapping[str, Agency]) -> Agency:
    """The agency of a caseworker or supervisor, which must be a CGC or municipality."""
    require_role(user, *DECIDING_ROLES)
    agency = agencies.get(user.agency_id)
    if agency is None or agency.agency_type not in (CGC, MUNICIPALITY):
        raise AccessDenied(f"agency {user.agency_id} of user {user.user_id} is not a CGC or municipality")
    return agency


def recipients_for(kind: str, from_agency_id: str, agencies: Mapping[str, Agency], *,
                   destination_municipality_code: str | None = None, last_address_code: str | None = None,
                   missing: Notice | None = None) -> tuple[str, ...]:
    """The agencies a notice goes to (never the sender's), in ID order. A last address outside the agencies list
    adds no municipality."""
    if kind == MOVED:
        destination = agencies.get(destination_municipality_code or "")
        if destination is None or destination.agency_type != MUNICIPALITY:
            raise InvalidNotice(f"destination {destination_municipality_code}: not a municipality code in the "
                                "agencies list")
        receivers = {destination.agency_id, destination.cgc_id}
    elif kind == MISSING:
        receivers = {a.agency_id for a in agencies.values() if a.agency_type == CGC}
        address = agencies.get(last_address_code or "")
        if address is not None and address.agency_type == MUNICIPALITY:
            receivers.add(address.agency_id)
    elif kind == FOUND:
        if missing is None or missing.kind != MISSING:
            raise InvalidNotice("a found notice closes a missing notice: none given")
        receivers = {r.agency_id for r in missing.recipients} | {missing.from_agency_id}
    else:
        raise InvalidNotice(f"kind {kind!r}: one of {', '.join(NOTICE_KINDS)}")
    return tuple(sorted(r for r in receivers if r and r != from_agency_id))


# --- what the warehouse says of the child

# The child's addresses over time: each report's, and each move's destination (a move outranks a report of the
# same moment: it is the later fact).
_ADDRESSES = """
    select person_key, received_at as happened_at, address_municipality_code as code, 0 as precedence
    from marts.case_history
    union all
    select person_key, event_at, to_municipality_code, 1
    from marts.child_timeline
    where event_type in ('move_in', 'move_out')"""


def _marts_last_address(con: duckdb.DuckDBPyConnection, person_key: str, as_of: dt.datetime) -> str | None:
    row = con.execute(f"""
        select code from ({_ADDRESSES}) where person_key = $person_key and happened_at <= $as_of
        order by happened_at desc, precedence desc, code limit 1""",
                      {"person_key": person_key, "as_of": _japan_naive(as_of)}).fetchone()
    return row[0] if row else None


def _data_as_of(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> dt.datetime:
    """The time the open case is counted up to: now, or the data's end when the warehouse ends before now."""
    try:
        end = dt.datetime.combine(data_end(con), dt.time.max, JAPAN)
    except NoHealthRecord:
        return now
    return min(now, end)


def _open_case(con: duckdb.DuckDBPyConnection, person_key: str, as_of: dt.datetime) -> dict:
    count, last = con.execute(f"""
        select count(*), max(received_at)::date from marts.case_history
        where person_key = $person_key and received_at <= $as_of
            and received_at > $as_of - interval {project_var("open_case_days")} day""",
                              {"person_key": person_key, "as_of": _japan_naive(as_of)}).fetchone()
    return {"report_count_365_days": count, "last_report_on": last.isoformat() if last else None,
            "as_of": _japan_naive(as_of).date().isoformat()}


def _child(con: duckdb.DuckDBPyConnection, person_key: str) -> dict:
    row = con.execute("select birth_year_month, sex from marts.child where person_key = ?", [person_key]).fetchone()
    return {"birth_year_month": row[0], "sex": row[1]} if row else {"birth_year_month": None, "sex": None}


def _agency_text(agency_id: str | None, agencies: Mapping[str, Agency]) -> dict | None:
    if agency_id is None:
        return None
    agency = agencies.get(agency_id)
    return {"agency_id": agency_id, "name": agency.name if agency else None,
            "cgc_id": agency.jurisdiction if agency else None}


def _case_record(store: Connection, agency_id: str, person_key: str) -> dict | None:
    """The parts of the agency's case record of the child that a receiver acts on (no free text)."""
    row = store.execute(select(case_records).where(case_records.c.agency_id == agency_id,
                                                   case_records.c.person_key == person_key)).one_or_none()
    if row is None:
        return None
    return {"version": row.version, "address": row.address, "address_municipality_code": row.address_municipality_code,
            "institutions": json.loads(row.institutions), "worker_id": row.worker_id, "plan_status": row.plan_status}


def _anchor(con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
            agencies: Mapping[str, Agency]) -> tuple[str, str] | tuple[None, None]:
    """One record of the child, the sender's agency's first, then its jurisdiction's."""
    return anchor_of(con, person_key, lambda agency_id: (agency_id != user.agency_id,
                                                         not in_jurisdiction(user, agency_id, agencies)))


# --- reading notices of both sources

def _receipts(acks: Iterable[tuple[str, dt.datetime | None, str | None]], clock_from: dt.datetime,
              now: dt.datetime) -> tuple[Receipt, ...]:
    late = now - clock_from > ESCALATE_AFTER
    return tuple(sorted((Receipt(agency, _utc(at) if at else None, by, at is None and late)
                         for agency, at, by in acks), key=lambda r: r.agency_id))


def _app_notices(store: Connection, con: duckdb.DuckDBPyConnection, now: dt.datetime) -> list[Notice]:
    rows = store.execute(select(notices).order_by(notices.c.id)).all()
    receivers: dict[int, list] = {}
    for r in store.execute(select(notice_recipients)):
        receivers.setdefault(r.notice_id, []).append((r.agency_id, r.acknowledged_at, r.acknowledged_by))
    keys = current_keys(con, ((r.anchor_agency_id, r.anchor_local_child_id) for r in rows))
    return [Notice(f"{APP}:{r.id}", APP, r.kind, keys.get((r.anchor_agency_id, r.anchor_local_child_id), r.person_key),
                   r.from_agency_id, r.sent_by, _utc(r.sent_at), r.destination_municipality_code, r.summary,
                   json.loads(r.essentials), _receipts(receivers.get(r.id, ()), _utc(r.sent_at), now),
                   r.closes_ref, None) for r in rows]


@dataclass(frozen=True)
class _Alert:
    """One notice of the alerts feed as the marts hold it, before its receivers are known."""
    ref: str
    kind: str
    person_key: str
    agency_id: str
    alert_id: str
    issued_at: dt.datetime
    known_at: dt.datetime
    destination_agency_id: str | None
    last_address_code: str | None
    essentials: dict


_ALERTS = f"""
    with alerts as (
        select person_key, agency_id, source_id as alert_id, alert_type, event_at, known_at, destination_agency_id
        from marts.child_timeline
        where source_feed = 'alerts' and ($person_keys is null or list_contains($person_keys, person_key))
    ),
    last_address as (
        select alerts.agency_id, alerts.alert_id, addresses.code
        from alerts inner join ({_ADDRESSES}) as addresses
            on addresses.person_key = alerts.person_key and addresses.happened_at <= alerts.event_at
        qualify row_number() over (partition by alerts.agency_id, alerts.alert_id
                                   order by addresses.happened_at desc, addresses.precedence desc, addresses.code) = 1
    ),
    open_case as (
        select alerts.agency_id, alerts.alert_id, count(*) as report_count,
            max(reports.received_at)::date as last_report_on
        from alerts inner join marts.case_history as reports
            on reports.person_key = alerts.person_key and reports.received_at <= alerts.event_at
            and reports.received_at > alerts.event_at - interval {project_var("open_case_days")} day
        group by all
    )
    select alerts.*, last_address.code, coalesce(open_case.report_count, 0), open_case.last_report_on,
        child.birth_year_month, child.sex
    from alerts
    left join last_address using (agency_id, alert_id)
    left join open_case using (agency_id, alert_id)
    left join marts.child as child using (person_key)
    order by alerts.event_at, alerts.agency_id, alerts.alert_id"""


def _alerts(con: duckdb.DuckDBPyConnection, agencies: Mapping[str, Agency],
            person_keys: Iterable[str] | None) -> list[_Alert]:
    keys = None if person_keys is None else sorted(person_keys)
    found = []
    for (person_key, agency_id, alert_id, kind, issued_at, known_at, destination, address, count, last, birth,
         sex) in con.execute(_ALERTS, {"person_keys": keys}).fetchall():
        essentials = {"birth_year_month": birth, "sex": sex, "from_agency": _agency_text(agency_id, agencies),
                      "worker": None, "open_case": {"report_count_365_days": count,
                                                    "last_report_on": last.isoformat() if last else None,
                                                    "as_of": issued_at.date().isoformat()},
                      "case_record": None, "destination": _agency_text(destination, agencies),
                      "last_address_municipality_code": address}
        found.append(_Alert(f"{FEED}:{agency_id}:{alert_id}", kind, person_key, agency_id, alert_id,
                            _japan(issued_at), _japan(known_at), destination, address, essentials))
    return found


def _alert_receivers(alert: _Alert, agencies: Mapping[str, Agency], missing: Notice | None) -> tuple[str, ...]:
    if alert.kind == MOVED:
        destination = agencies.get(alert.destination_agency_id or "")
        if destination is None:
            return ()
        if destination.agency_type == CGC:
            return tuple(a for a in (destination.agency_id,) if a != alert.agency_id)
        return recipients_for(MOVED, alert.agency_id, agencies, destination_municipality_code=destination.agency_id)
    if alert.kind == FOUND and missing is not None:
        return recipients_for(FOUND, alert.agency_id, agencies, missing=missing)
    return recipients_for(MISSING, alert.agency_id, agencies, last_address_code=alert.last_address_code)


def _feed_notice(alert: _Alert, receivers: Iterable[str], acks: Mapping[tuple[str, str, str], tuple],
                 closes: str | None, agencies: Mapping[str, Agency], now: dt.datetime) -> Notice:
    """The alert as a notice; its destination municipality is the one it was addressed to (none when addressed to
    a CGC: ``essentials["destination"]`` names it)."""
    receipts = _receipts(((agency, *acks.get((agency, alert.agency_id, alert.alert_id), (None, None)))
                          for agency in receivers), alert.known_at, now)
    addressed = agencies.get(alert.destination_agency_id or "")
    destination = addressed.agency_id if addressed and addressed.agency_type == MUNICIPALITY else None
    return Notice(alert.ref, FEED, alert.kind, alert.person_key, alert.agency_id, None, alert.issued_at,
                  destination, "", alert.essentials, receipts, closes, None)


def _notices(store: Connection, con: duckdb.DuckDBPyConnection, agencies: Mapping[str, Agency], now: dt.datetime,
             person_keys: Iterable[str] | None = None) -> list[Notice]:
    """Every notice (or those about the given children), app and feed, with their receipts and closures."""
    keys = None if person_keys is None else set(person_keys)
    every_app_notice = _app_notices(store, con, now)
    # an app notice delivered back through the feed is the same notice
    delivered = {(n.from_agency_id, app_alert_id(int(n.ref.removeprefix(f"{APP}:")))) for n in every_app_notice}
    app = [n for n in every_app_notice if keys is None or n.person_key in keys]
    acks = {(r.agency_id, r.source_agency_id, r.alert_id): (r.acknowledged_at, r.acknowledged_by)
            for r in store.execute(select(feed_notice_acks))}
    closed = {n.closes: n.ref for n in app if n.closes}
    missing = sorted((n for n in app if n.kind == MISSING), key=lambda n: n.sent_at)
    feed = []
    for alert in _alerts(con, agencies, keys):  # in issue order: a missing notice precedes the found that closes it
        if (alert.agency_id, alert.alert_id) in delivered:
            continue
        if alert.kind == FOUND:
            target = next((m for m in missing if m.person_key == alert.person_key and m.sent_at <= alert.issued_at
                           and m.ref not in closed), None)
            notice = _feed_notice(alert, _alert_receivers(alert, agencies, target), acks,
                                  target.ref if target else None, agencies, now)
            if target:
                closed[target.ref] = notice.ref
        else:
            notice = _feed_notice(alert, _alert_receivers(alert, agencies, None), acks, None, agencies, now)
            if alert.kind == MISSING:
                missing = sorted([*missing, notice], key=lambda n: n.sent_at)
        feed.append(notice)
    return [replace(n, closed_by=closed.get(n.ref)) for n in app + feed]


def _newest_first(found: Iterable[Notice]) -> list[Notice]:
    return sorted(found, key=lambda n: (n.sent_at, n.ref), reverse=True)


# --- sending and acknowledging

def open_missing(engine: Engine, con: duckdb.DuckDBPyConnection, person_key: str) -> list[Notice]:
    """The child's missing notices (app and feed) that no found notice has closed, oldest first."""
    with engine.connect() as store:
        found = _notices(store, con, load_agencies(con), _now(None), {person_key})
    return sorted((n for n in found if n.kind == MISSING and n.closed_by is None), key=lambda n: n.sent_at)


def _essentials(store: Connection, con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
                agencies: Mapping[str, Agency], now: dt.datetime, destination: str | None,
                last_address: tuple[str | None, str] | None) -> dict:
    essentials = {**_child(con, person_key), "from_agency": _agency_text(user.agency_id, agencies),
                  "worker": {"user_id": user.user_id, "display_name": user.display_name},
                  "open_case": _open_case(con, person_key, _data_as_of(con, now)),
                  "case_record": _case_record(store, user.agency_id, person_key),
                  "destination": _agency_text(destination, agencies)}
    if last_address is not None:
        essentials["last_address_municipality_code"], essentials["last_address_from"] = last_address
    return essentials


def _last_address(store: Connection, con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
                  now: dt.datetime) -> tuple[str | None, str]:
    """The child's last address (municipality code) and where it was read: the sender's case record, or the marts."""
    code = store.execute(select(case_records.c.address_municipality_code).where(
        case_records.c.agency_id == user.agency_id, case_records.c.person_key == person_key)).scalar()
    if code:
        return code, "case_record"
    return _marts_last_address(con, person_key, now), "marts"


def _require_holding_jurisdiction(con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
                                  agencies: Mapping[str, Agency]) -> tuple[str, ...]:
    """The agencies holding the child; refused unless the user's jurisdiction is one of them."""
    holders = tuple(h.agency_id for h in load_holdings(con, person_key))
    if not any(in_jurisdiction(user, agency, agencies) for agency in holders):
        raise AccessDenied(f"child {person_key}: no agency of your jurisdiction holds a record, so it may not send "
                           "a notice about the child")
    return holders


def send_notice(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, person_key: str, kind: str,
                agencies: Mapping[str, Agency], *, summary: str, destination_municipality_code: str | None = None,
                closes: str | None = None, now: dt.datetime | None = None) -> Notice:
    """Send a notice about a child the user's jurisdiction holds: the notice, one recipient row per receiving
    agency, the audit row and a change notification to every other agency holding the child, in one transaction.
    ``now`` is what the open case of the essentials is counted up to (never after the data's end)."""
    home = _worker_agency(user, agencies)
    holders = _require_holding_jurisdiction(con, user, person_key, agencies)
    now = _now(now)
    summary = (summary or "").strip()
    if not summary:
        raise InvalidNotice("summary: required (what happened and what the receiver should do)")
    if kind not in NOTICE_KINDS:
        raise InvalidNotice(f"kind {kind!r}: one of {', '.join(NOTICE_KINDS)}")
    if (kind == MOVED) != (destination_municipality_code is not None):
        raise InvalidNotice("destination: a moved notice needs one, and only a moved notice has one")
    if (kind == FOUND) != (closes is not None):
        raise InvalidNotice("closes: a found notice names the missing notice it closes, and only a found notice does")
    anchor = _anchor(con, user, person_key, agencies)
    with audited(engine) as tx:
        open_now = [n for n in _notices(tx.con, con, agencies, now, {person_key})
                    if n.kind == MISSING and n.closed_by is None]
        missing, last_address = None, None
        if kind == MISSING:
            if open_now:
                raise InvalidNotice(f"child {person_key} already has an open missing notice ({open_now[0].ref})")
            last_address = _last_address(tx.con, con, user, person_key, now)
        if kind == FOUND:
            missing = next((n for n in open_now if n.ref == closes), None)
            if missing is None:
                raise InvalidNotice(f"closes {closes}: not an open missing notice of child {person_key}")
        receivers = recipients_for(kind, home.agency_id, agencies,
                                   destination_municipality_code=destination_municipality_code,
                                   last_address_code=last_address[0] if last_address else None, missing=missing)
        if not receivers:
            raise InvalidNotice(f"a {kind} notice from {home.agency_id} would reach no other agency")
        essentials = _essentials(tx.con, con, user, person_key, agencies, now, destination_municipality_code,
                                 last_address)
        stored = tx.con.execute(insert(notices).values(
            kind=kind, person_key=person_key, anchor_agency_id=anchor[0], anchor_local_child_id=anchor[1],
            from_agency_id=home.agency_id, sent_by=user.user_id, sent_at=tx.now,
            destination_municipality_code=destination_municipality_code,
            closes_ref=missing.ref if missing else None,
            essentials=json.dumps(essentials, ensure_ascii=False), summary=summary))
        [notice_id] = stored.inserted_primary_key
        tx.con.execute(insert(notice_recipients), [{"notice_id": notice_id, "agency_id": a} for a in receivers])
        ref = f"{APP}:{notice_id}"
        tx.log(AccessEntry(user.user_id, user.role, SEND_NOTICE, home.agency_id, person_key=person_key,
                           detail=f"{ref} {kind} to {';'.join(receivers)}"))
        notify(tx, person_key=person_key, change="notice", source_agency_id=home.agency_id,
               event_key=f"notice:{notice_id}", recipients=holders, detail=f"{kind} {ref}")
        return next(n for n in _notices(tx.con, con, agencies, now, {person_key}) if n.ref == ref)


def _parse_ref(ref: str) -> tuple[str, ...]:
    parts = tuple(ref.split(":", 2))  # an alert's own ID may hold a colon
    if (parts[0] == APP and len(parts) == 2 and parts[1].isdigit()) or (parts[0] == FEED and len(parts) == 3):
        return parts
    raise InvalidNotice(f"notice {ref!r}: not a notice reference (app:<id> or feed:<agency_id>:<alert_id>)")


def _feed_person(con: duckdb.DuckDBPyConnection, ref: str, agency_id: str, alert_id: str) -> str:
    row = con.execute("select person_key from marts.child_timeline where source_feed = 'alerts' and agency_id = ? "
                      "and source_id = ?", [agency_id, alert_id]).fetchone()
    if row is None:
        raise InvalidNotice(f"notice {ref}: no such alert in the warehouse")
    return row[0]


def acknowledge(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, ref: str,
                agencies: Mapping[str, Agency]) -> None:
    """The receiving agency acknowledges a notice (once); an agency the notice was not sent to is refused."""
    home = _worker_agency(user, agencies)
    parts = _parse_ref(ref)
    with audited(engine) as tx:
        if parts[0] == APP:
            row = tx.con.execute(select(notices.c.person_key).where(notices.c.id == int(parts[1]))).one_or_none()
            if row is None:
                raise InvalidNotice(f"notice {ref}: no such notice")
            person_key = row.person_key
        else:
            person_key = _feed_person(con, ref, parts[1], parts[2])
        notice = next(n for n in _notices(tx.con, con, agencies, _utc(tx.now), {person_key}) if n.ref == ref)
        receipt = notice.receipt(home.agency_id)
        if receipt is None:
            raise AccessDenied(f"notice {ref} was not sent to {home.agency_id}")
        if receipt.acknowledged_at is not None:
            raise InvalidNotice(f"notice {ref} was already acknowledged by {home.agency_id} "
                                f"({receipt.acknowledged_by}, {receipt.acknowledged_at:%Y-%m-%d %H:%M} UTC)")
        if parts[0] == APP:
            tx.con.execute(update(notice_recipients).where(
                notice_recipients.c.notice_id == int(parts[1]), notice_recipients.c.agency_id == home.agency_id)
                .values(acknowledged_at=tx.now, acknowledged_by=user.user_id))
        else:
            tx.con.execute(insert(feed_notice_acks).values(
                agency_id=home.agency_id, source_agency_id=parts[1], alert_id=parts[2], acknowledged_at=tx.now,
                acknowledged_by=user.user_id))
        tx.log(AccessEntry(user.user_id, user.role, ACKNOWLEDGE_NOTICE, home.agency_id, person_key=notice.person_key,
                           detail=ref))


# --- lists

def inbox(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, agencies: Mapping[str, Agency],
          now: dt.datetime | None = None) -> list[Notice]:
    """The notices the user's agency received, app and feed: those it has not acknowledged first, then newest."""
    home = _worker_agency(user, agencies)
    with audited(engine) as tx:
        received = [n for n in _notices(tx.con, con, agencies, _now(now)) if n.receipt(home.agency_id)]
        tx.log(AccessEntry(user.user_id, user.role, VIEW_NOTICES, home.agency_id,
                           detail=f"inbox: {len(received)} notices"))
    return sorted(_newest_first(received), key=lambda n: n.receipt(home.agency_id).acknowledged_at is not None)


def sent(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, agencies: Mapping[str, Agency],
         now: dt.datetime | None = None) -> list[Notice]:
    """The notices the user's agency sent (app and feed), newest first, with each receiver's acknowledgement."""
    home = _worker_agency(user, agencies)
    with audited(engine) as tx:
        found = [n for n in _notices(tx.con, con, agencies, _now(now)) if n.from_agency_id == home.agency_id]
        tx.log(AccessEntry(user.user_id, user.role, VIEW_NOTICES, home.agency_id, detail=f"sent: {len(found)} notices"))
    return _newest_first(found)


def notices_of_child(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, grant: Grant,
                     now: dt.datetime | None = None) -> list[Notice]:
    """The notices about the child of an opened record (``access.open_child``), newest first: those sent or received
    by an agency of the grant or of the user's jurisdiction."""
    if grant.user_id != user.user_id or grant.person_key is None:
        raise AccessDenied(f"the record was opened by {grant.user_id}, not {user.user_id}")
    agencies = load_agencies(con)
    shown = set(grant.agencies) | {a for a in agencies if in_jurisdiction(user, a, agencies)}
    with audited(engine) as tx:
        found = [n for n in _notices(tx.con, con, agencies, _now(now), {grant.person_key})
                 if shown & ({n.from_agency_id} | {r.agency_id for r in n.recipients})]
        tx.log(AccessEntry(user.user_id, user.role, VIEW_NOTICES, user.agency_id, person_key=grant.person_key,
                           detail=f"child: {len(found)} notices"))
    return _newest_first(found)


def escalations(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, agencies: Mapping[str, Agency],
                now: dt.datetime | None = None) -> list[Notice]:
    """For supervisors: the notices their agency sent, or failed to acknowledge, that are still unacknowledged by
    a receiver ``ESCALATE_AFTER`` after they were sent; oldest first."""
    require_role(user, SUPERVISOR)
    home = _worker_agency(user, agencies)
    with audited(engine) as tx:
        found = [n for n in _notices(tx.con, con, agencies, _now(now))
                 if any(r.overdue and home.agency_id in (n.from_agency_id, r.agency_id) for r in n.recipients)]
        tx.log(AccessEntry(user.user_id, user.role, VIEW_ESCALATIONS, home.agency_id,
                           detail=f"{len(found)} notices"))
    return sorted(found, key=lambda n: (n.sent_at, n.ref))


# --- the transfer worklist

def _transfer_notice(move: dict, moved: list[Notice]) -> str:
    """Whether the destination was told of the move: an app moved notice to the destination municipality sent from
    30 days before the move (acknowledged by it), or a feed moved notice to the destination municipality or its
    CGC in the mart's window (acknowledged by one of them)."""
    destination, cgc = move["to_municipality_code"], move["destination_cgc_id"]
    before = dt.timedelta(days=project_var("moved_notice_days_before"))
    after = dt.timedelta(days=project_var("moved_notice_days_after") + 1)
    earliest = dt.datetime.combine(move["event_date"] - before, dt.time(), JAPAN)
    latest = dt.datetime.combine(move["event_date"] + after, dt.time(), JAPAN)
    told = []
    for n in moved:
        if n.person_key != move["person_key"] or n.sent_at < earliest:
            continue
        if n.source == APP and n.destination_municipality_code == destination:
            told.append(n.receipt(destination))
        elif n.source == FEED and n.essentials["destination"] and n.sent_at < latest \
                and n.essentials["destination"]["agency_id"] in (destination, cgc):
            told += [r for r in n.recipients if r.agency_id in (destination, cgc)]
    told = [r for r in told if r is not None]
    if any(r.acknowledged_at for r in told):
        return ACKNOWLEDGED
    return SENT if told else NONE


def transfer_worklist(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, agencies: Mapping[str, Agency],
                      as_of: dt.date | None = None) -> list[TransferRow]:
    """Children with an open case who moved, from, to or last reported in the user's jurisdiction, whose
    destination has not acknowledged a moved notice (``marts.transfer_alerts``): oldest move first, with whether a
    notice was sent. ``as_of``: only the moves on record by that day."""
    home = _worker_agency(user, agencies)
    ours = {a for a in agencies if in_jurisdiction(user, a, agencies)}
    cursor = con.execute("""
        select person_key, event_date, from_municipality_code, to_municipality_code, destination_cgc_id,
            open_case_report_count, last_report_agency_id
        from marts.transfer_alerts
        where alert_kind = 'transfer' and ($as_of is null or known_at < cast($as_of as date) + interval 1 day)
        order by event_date, person_key, from_municipality_code, to_municipality_code""", {"as_of": as_of})
    columns = [c[0] for c in cursor.description]
    moves = [m for m in (dict(zip(columns, row)) for row in cursor.fetchall())
             if ours & {m["from_municipality_code"], m["to_municipality_code"], m["last_report_agency_id"]}]
    with audited(engine) as tx:
        moved = [n for n in _notices(tx.con, con, agencies, _utc(tx.now), {m["person_key"] for m in moves})
                 if n.kind == MOVED]
        rows = [TransferRow(m["person_key"], m["event_date"], m["from_municipality_code"],
                            m["to_municipality_code"], m["destination_cgc_id"], int(m["open_case_report_count"]),
                            m["last_report_agency_id"], _transfer_notice(m, moved)) for m in moves]
        rows = [r for r in rows if r.notice != ACKNOWLEDGED]
        tx.log(AccessEntry(user.user_id, user.role, VIEW_TRANSFER_WORKLIST, home.agency_id,
                           detail=f"{len(rows)} moves" + (f" as of {as_of}" if as_of else "")))
    return rows
