"""Change notifications: when a shared child's record changes in one agency, every other agency holding the child
is told once.

A change is named by its ``event_key`` (what changed, e.g. ``case_record:12:v3`` or a feed event's key), and the
store keeps one notification per (receiving agency, event_key): telling twice is a no-op, so a re-run, a retried
save or a second detector never duplicates one. A decision on an app-entered intake is told under the key its
assessment will have as a feed event (``feed_event_key``), so the run that delivers it tells nobody twice.

The receiving side: the inbox of a person working with children is their agency's notifications, each read or unread
by that person; reading the inbox is audited, the unread count (a number on every page) is not.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, exists, func, insert, select, tuple_

from kodomo.appdata.access import CHILD_ROLES, AccessDenied, require_role
from kodomo.operational import (CHANGES, AccessEntry, AuditedTransaction, WorkerDecision, audited, case_records,
                                notification_reads, notifications)

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

VIEW_NOTIFICATIONS, READ_NOTIFICATIONS = "view_notifications", "read_notifications"
_LOOKUP_CHUNK = 400  # pairs per lookup: two parameters each, within SQLite's limit
APP_REPORT_PREFIX = "APP"  # an app-entered intake's report number (kodomo.intake_entries.REPORT_PREFIX)


@dataclass(frozen=True)
class Change:
    """One change of a child's record, to tell the recipient agencies (the source never tells itself)."""
    person_key: str
    change: str  # one of the store's CHANGES
    source_agency_id: str
    event_key: str
    recipients: frozenset[str]
    detail: str | None = None


def notify(transaction: AuditedTransaction, *, person_key: str, change: str, source_agency_id: str,
           event_key: str, recipients: Iterable[str], detail: str | None = None) -> int:
    """Tell each recipient agency (except the source) of one change, inside the transaction that makes the change;
    how many notifications were new."""
    return notify_all(transaction, [Change(person_key, change, source_agency_id, event_key, frozenset(recipients),
                                           detail)])


def notify_all(transaction: AuditedTransaction, changes: Iterable[Change]) -> int:
    """``notify`` for many changes at once (a run's feed changes), in few statements: the store's write lock is
    held briefly. How many notifications were new."""
    changes = list(changes)
    if unknown := sorted({c.change for c in changes} - set(CHANGES)):
        raise ValueError(f"change {unknown[0]!r}: one of {', '.join(CHANGES)}")
    wanted = sorted({(agency, c.event_key) for c in changes for agency in c.recipients - {c.source_agency_id}})
    told = _told(transaction, wanted)
    rows = []
    for c in changes:
        for agency in sorted(c.recipients - {c.source_agency_id}):
            if (agency, c.event_key) not in told:
                told.add((agency, c.event_key))
                rows.append({"agency_id": agency, "person_key": c.person_key, "change": c.change,
                             "source_agency_id": c.source_agency_id, "event_key": c.event_key,
                             "created_at": transaction.now, "detail": c.detail})
    if rows:
        transaction.con.execute(insert(notifications), rows)
    return len(rows)


def _told(transaction: AuditedTransaction, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (agency, event_key) pairs were told already, looked up by the store's unique index."""
    told = set()
    for start in range(0, len(pairs), _LOOKUP_CHUNK):
        chunk = pairs[start:start + _LOOKUP_CHUNK]
        told |= {tuple(row) for row in transaction.con.execute(select(
            notifications.c.agency_id, notifications.c.event_key).where(
            tuple_(notifications.c.agency_id, notifications.c.event_key).in_(chunk)))}
    return told


def feed_event_key(source_feed: str, agency_id: str, record: str, event_type: str, value: str | None) -> str:
    """A feed event's key, the same in every run: where it came from and what it says, never the child's person
    key (a run may re-key the clusters). ``record`` is the row's key within its agency (``local_child_id/`` first
    for the feeds keyed per child); ``value`` what distinguishes a changed row (a substantiation, a decision)."""
    return f"{source_feed}:{agency_id}:{record}:{event_type}:{value or ''}"


def feed_event_key_sql(source_feed: str, agency_id: str, record: str, event_type: str, value: str) -> str:
    """``feed_event_key`` as a SQL expression of the given column expressions (none null but ``value``): the run's
    keys are made in the warehouse."""
    return f"concat_ws(':', {source_feed}, {agency_id}, {record}, {event_type}, coalesce({value}, ''))"


def case_record_keepers(transaction: AuditedTransaction, person_key: str) -> set[str]:
    """The agencies keeping a case record of the child (holders, whatever the warehouse says)."""
    return set(transaction.con.execute(select(case_records.c.agency_id).where(
        case_records.c.person_key == person_key)).scalars())


def notify_decision(transaction: AuditedTransaction, decision: WorkerDecision, decision_id: int,
                    holders: Collection[str]) -> int:
    """Tell the agencies holding the child (``holders`` from the warehouse, and those keeping a case record) of a
    decision on an intake, inside the transaction that records it. Nobody is told of an unidentified child."""
    if decision.person_key is None:
        return 0
    if decision.report_id.startswith(APP_REPORT_PREFIX):
        key = feed_event_key("assessments", decision.agency_id, decision.report_id, "assessment", decision.decision)
    else:
        key = f"decision:{decision_id}"
    return notify(transaction, person_key=decision.person_key, change="decision",
                  source_agency_id=decision.agency_id, event_key=key,
                  recipients=set(holders) | case_record_keepers(transaction, decision.person_key),
                  detail=f"{decision.report_id}: {decision.decision}")


@dataclass(frozen=True)
class Notification:
    id: int
    person_key: str
    change: str
    source_agency_id: str
    created_at: dt.datetime
    detail: str | None
    read: bool


def _read_by(user: Account):
    return exists().where(notification_reads.c.notification_id == notifications.c.id,
                          notification_reads.c.user_id == user.user_id)


def notifications_for(engine: Engine, user: Account, *, limit: int = 200) -> list[Notification]:
    """The user's agency's notifications, newest first, each read or not by this user; audited
    (``view_notifications``) in the transaction that reads them."""
    require_role(user, *CHILD_ROLES)
    n = notifications.c
    query = (select(n.id, n.person_key, n.change, n.source_agency_id, n.created_at, n.detail,
                    _read_by(user).label("read"))
             .where(n.agency_id == user.agency_id).order_by(n.id.desc()).limit(limit))
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_NOTIFICATIONS, user.agency_id))
        return [Notification(*row[:4], _aware(row.created_at), row.detail, bool(row.read))
                for row in transaction.con.execute(query)]


def unread_count(engine: Engine, user: Account) -> int:
    """How many of the user's agency's notifications this user has not read (a number: not audited)."""
    require_role(user, *CHILD_ROLES)
    query = select(func.count()).select_from(notifications).where(
        notifications.c.agency_id == user.agency_id, ~_read_by(user))
    with engine.connect() as con:
        return con.scalar(query)


def mark_read(engine: Engine, user: Account, ids: Iterable[int]) -> None:
    """Mark notifications of the user's agency read by the user (again: nothing changes). Any other ID is refused
    (``AccessDenied``) and nothing is marked."""
    require_role(user, *CHILD_ROLES)
    wanted = set(ids)
    if not wanted:
        return
    with audited(engine) as transaction:
        con = transaction.con
        own = set(con.execute(select(notifications.c.id).where(
            notifications.c.id.in_(wanted), notifications.c.agency_id == user.agency_id)).scalars())
        if others := sorted(wanted - own):
            raise AccessDenied(f"notifications {', '.join(map(str, others))} are not your agency's "
                               f"({user.agency_id})")
        read = set(con.execute(select(notification_reads.c.notification_id).where(
            notification_reads.c.notification_id.in_(own), notification_reads.c.user_id == user.user_id)).scalars())
        if new := sorted(own - read):
            con.execute(insert(notification_reads), [
                {"notification_id": i, "user_id": user.user_id, "read_at": transaction.now} for i in new])
            transaction.log(AccessEntry(user.user_id, user.role, READ_NOTIFICATIONS, user.agency_id,
                                        detail=";".join(map(str, new))))


def _aware(at: dt.datetime) -> dt.datetime:
    """A database time: aware as PostgreSQL gives it, naive UTC as SQLite does."""
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
