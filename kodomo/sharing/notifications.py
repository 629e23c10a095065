"""Change notifications: when a shared child's record changes in one agency, every other agency holding the child
is told once.

A change is named by its ``event_key`` (what changed, e.g. ``case_record:12:v3`` or a feed event's key), and the
store keeps one notification per (receiving agency, event_key): telling twice is a no-op, so a re-run, a retried
save or a second detector never duplicates one.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select

from kodomo.operational import CHANGES, AuditedTransaction, notifications


def notify(transaction: AuditedTransaction, *, person_key: str, change: str, source_agency_id: str,
           event_key: str, recipients: Iterable[str], detail: str | None = None) -> int:
    """Tell each recipient agency (except the source) of one change, inside the transaction that makes the change;
    how many notifications were new."""
    if change not in CHANGES:
        raise ValueError(f"change {change!r}: one of {', '.join(CHANGES)}")
    told = set(transaction.con.execute(select(notifications.c.agency_id).where(
        notifications.c.event_key == event_key)).scalars())
    new = sorted(set(recipients) - told - {source_agency_id})
    if new:
        transaction.con.execute(insert(notifications), [
            {"agency_id": agency_id, "person_key": person_key, "change": change, "source_agency_id": source_agency_id,
             "event_key": event_key, "created_at": transaction.now, "detail": detail} for agency_id in new])
    return len(new)
