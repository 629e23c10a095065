"""Changes that arrive through the feeds, told to the agencies holding the child after each run.

After a run publishes its warehouse, the child timeline's events (``intermediate.int_child_events``, the rows of
``marts.child_timeline`` with each record's own ID) are compared with those of the previous publication by their
``feed_event_key``: where the event came from and what it says, never the person key, which a run may change. Each
new event is told to every agency holding the child (``marts.child``) but the event's own, as one of the store's
changes (``CHANGE_OF``; an assessment already known with another decision is a ``decision``), except a notice made
in the app and delivered back as its agency's alerts row, whose holders were told when it was sent.

The previous publication's keys are kept in ``Settings.feed_events_path``, replaced only after the
notifications are committed (the store keeps one notification per agency and key, so a crash in between tells
nobody twice). The first run only records them: the whole history is no news. Re-running the same landing gives
the same keys, and so tells nobody anything.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.contracts import FEEDS, contract
from kodomo.operational import SYSTEM, SYSTEM_USER, AccessEntry, audited, connect
from kodomo.settings import Settings
from kodomo.sharing.notices import APP_ALERT_PREFIX
from kodomo.sharing.notifications import Change, feed_event_key, notify_all

log = logging.getLogger("kodomo.progress")
NOTIFY_FEED_CHANGES = "notify_feed_changes"
#: The store's change of each timeline event type (dbt_project/models/intermediate/int_child_events.sql).
CHANGE_OF = {
    "report_received": "report",
    "safety_confirmed": "safety",
    "report_substantiated": "substantiation",
    "report_unsubstantiated": "substantiation",
    "temporary_protection": "protection",
    "severe_harm_recorded": "severe_harm",
    "assessment": "assessment",
    "checkup_attended": "checkup",
    "checkup_no_show": "checkup",
    "immunization": "immunization",
    "move_in": "move",
    "move_out": "move",
}
ALERT_PREFIX = "alert_"  # alert_moved, alert_missing, alert_found: notices
_EVENTS = """
    select events.person_key, events.agency_id, events.local_child_id, events.source_feed, events.source_id,
           events.event_type, events.event_at,
           coalesce(events.substantiation, events.worker_decision, events.checkup_result) as value,
           child.agency_ids
    from intermediate.int_child_events as events
    inner join marts.child as child using (person_key)"""


def change_of(event_type: str) -> str:
    if event_type.startswith(ALERT_PREFIX):
        return "notice"
    try:
        return CHANGE_OF[event_type]
    except KeyError:
        raise ValueError(f"timeline event type {event_type!r} has no change to notify: add it to CHANGE_OF") from None


def _per_child_feeds() -> frozenset[str]:
    """The feeds whose rows are keyed per child (checkups, immunizations): their key needs the record's own ID."""
    return frozenset(feed for feed in FEEDS if "local_child_id" in contract(feed).key)


def published_events(warehouse: Path) -> pd.DataFrame | None:
    """The published timeline's events with their keys and holders; None when the run built no timeline."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        built = con.execute("""select count(*) from duckdb_tables() where (schema_name, table_name) in
                               (('intermediate', 'int_child_events'), ('marts', 'child'))""").fetchone()[0]
        if built < 2:
            return None
        events = con.execute(_EVENTS).df()
    per_child = _per_child_feeds()
    events["event_key"] = [
        feed_event_key(feed, agency, f"{child}/{source}" if feed in per_child else source, event_type,
                       None if pd.isna(value) else value)
        for feed, agency, child, source, event_type, value in zip(
            events.source_feed, events.agency_id, events.local_child_id, events.source_id, events.event_type,
            events.value, strict=True)]
    return events


def _identity(event_key: str) -> str:
    """The key without the event's value: the same row, whatever it says."""
    return event_key.rsplit(":", 1)[0]


def _change(event, known_rows: set[str]) -> str:
    """The event's change; an assessment known before with another decision is the worker's decision."""
    if event.event_type == "assessment" and _identity(event.event_key) in known_rows:
        return "decision"
    return change_of(event.event_type)


def _detail(event) -> str:
    when = "" if pd.isna(event.event_at) else f" {event.event_at:%Y-%m-%d}"
    value = "" if pd.isna(event.value) else f" {event.value}"
    return f"{event.event_type} {event.source_id}{when}{value}"


def _tell(settings: Settings, new: pd.DataFrame, known: set[str]) -> int:
    """Notify the holders of each new event in one transaction, with one audit row; how many notifications."""
    known_rows = {_identity(key) for key in known}
    changes = [Change(event.person_key, _change(event, known_rows), event.agency_id, event.event_key,
                      frozenset(event.agency_ids.split(";")), _detail(event)) for event in new.itertuples(index=False)]
    engine = connect(settings)
    try:
        with audited(engine) as transaction:
            told = notify_all(transaction, changes)
            transaction.log(AccessEntry(SYSTEM_USER, SYSTEM, NOTIFY_FEED_CHANGES,
                                        detail=f"new events {len(new)}, notifications {told}"))
    finally:
        engine.dispose()
    return told


def _keep(path: Path, keys: pd.Series) -> None:
    """Replace the kept keys in one step (a reader sees the old file or the new one)."""
    partial = path.with_name(f".{path.name}.partial")
    pd.DataFrame({"event_key": keys.drop_duplicates().sort_values()}).to_parquet(partial, index=False)
    os.replace(partial, path)


def _sent_from_the_app(events: pd.DataFrame) -> pd.Series:
    """Notices made in the app and delivered back as alerts rows: their holders were told when they were sent."""
    return events.event_type.str.startswith(ALERT_PREFIX) & events.source_id.str.startswith(APP_ALERT_PREFIX)


def notify_feed_changes(settings: Settings) -> int:
    """Tell the holding agencies of the events the published warehouse has and the previous one had not; how
    many notifications. The first run records the events and tells nobody."""
    events = published_events(settings.warehouse_path)
    if events is None:
        log.info("feed changes: the run built no timeline; nothing compared")
        return 0
    path = settings.feed_events_path
    if not path.is_file():
        _keep(path, events.event_key)
        log.info("feed changes: first run, %d events recorded as the baseline; nobody notified", len(events))
        return 0
    known = set(pd.read_parquet(path).event_key)
    new = events[~events.event_key.isin(known) & ~_sent_from_the_app(events)]
    told = _tell(settings, new, known) if len(new) else 0
    _keep(path, events.event_key)
    log.info("feed changes: new events %d, notifications %d", len(new), told)
    return told
