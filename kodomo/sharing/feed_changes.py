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
from kodomo.sharing.notifications import Change, feed_event_key_sql, notify_all

log = logging.getLogger("kodomo.progress")
NOTIFY_FEED_CHANGES = "notify_feed_changes"
ASSESSMENT = "assessment"  # the event type whose changed value is a worker's decision
#: The store's change of each timeline event type (dbt_project/models/intermediate/int_child_events.sql).
CHANGE_OF = {
    "report_received": "report",
    "safety_confirmed": "safety",
    "report_substantiated": "substantiation",
    "report_unsubstantiated": "substantiation",
    "temporary_protection": "protection",
    "severe_harm_recorded": "severe_harm",
    ASSESSMENT: "assessment",
    "checkup_attended": "checkup",
    "checkup_no_show": "checkup",
    "immunization": "immunization",
    "move_in": "move",
    "move_out": "move",
}
ALERT_PREFIX = "alert_"  # alert_moved, alert_missing, alert_found: notices


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


def _events_view(con: duckdb.DuckDBPyConnection) -> bool:
    """Define the temporary view ``events``: the published timeline's events with their keys and holders; False
    when the run built no timeline. The keys are made in the warehouse: a Tokyo timeline has some 15 million."""
    built = con.execute("""select count(*) from duckdb_tables() where (schema_name, table_name) in
                           (('intermediate', 'int_child_events'), ('marts', 'child'))""").fetchone()[0]
    if built < 2:
        return False
    per_child = ", ".join(f"'{feed}'" for feed in sorted(_per_child_feeds()))
    record = (f"case when events.source_feed in ({per_child}) "
              "then events.local_child_id || '/' || events.source_id else events.source_id end")
    value = "coalesce(events.substantiation, events.worker_decision, events.checkup_result)"
    key = feed_event_key_sql("events.source_feed", "events.agency_id", record, "events.event_type", value)
    con.execute(f"""
        create or replace temp view events as
        select events.person_key, events.agency_id, events.source_id, events.event_type, events.event_at,
               {value} as value, child.agency_ids, {key} as event_key
        from intermediate.int_child_events as events
        inner join marts.child as child using (person_key)""")
    return True


def _new_events(con: duckdb.DuckDBPyConnection, known: Path) -> pd.DataFrame:
    """The events whose keys are not ``known``, but notices made in the app and delivered back as alerts rows (their
    holders were told when they were sent); ``row_known``: the same row was known with another value (an assessment
    with another decision is the worker's decision)."""
    identity = "regexp_replace({}, ':[^:]*$', '')"  # the key without the event's value: the same row
    # Only assessments ask (see _change), so only known assessment keys are cut: a tenth of a Tokyo timeline's.
    return con.execute(f"""
        with known as (select event_key from read_parquet($known)),
        known_rows as (select distinct {identity.format("event_key")} as row_key from known
                       where contains(event_key, ':' || $assessment || ':'))
        select events.*,
               events.event_type = $assessment
               and {identity.format("events.event_key")} in (select row_key from known_rows) as row_known
        from events anti join known using (event_key)
        where not (starts_with(events.event_type, $alert) and starts_with(events.source_id, $app_alert))
        order by events.event_key, events.person_key""",
        {"known": str(known), "assessment": ASSESSMENT, "alert": ALERT_PREFIX, "app_alert": APP_ALERT_PREFIX}).df()


def _change(event) -> str:
    """The event's change; an assessment known before with another decision is the worker's decision."""
    if event.row_known:
        return "decision"
    return change_of(event.event_type)


def _detail(event) -> str:
    when = "" if pd.isna(event.event_at) else f" {event.event_at:%Y-%m-%d}"
    value = "" if pd.isna(event.value) else f" {event.value}"
    return f"{event.event_type} {event.source_id}{when}{value}"


def _tell(settings: Settings, new: pd.DataFrame) -> int:
    """Notify the holders of each new event in one transaction, with one audit row; how many notifications."""
    changes = [Change(event.person_key, _change(event), event.agency_id, event.event_key,
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


def _keep(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Replace the kept keys in one step (a reader sees the old file or the new one)."""
    partial = path.with_name(f".{path.name}.partial")
    con.execute(f"copy (select distinct event_key from events order by event_key) to '{partial}' (format parquet)")
    os.replace(partial, path)


def notify_feed_changes(settings: Settings) -> int:
    """Tell the holding agencies of the events the published warehouse has and the previous one had not; how
    many notifications. The first run records the events and tells nobody."""
    path = settings.feed_events_path
    with duckdb.connect(str(settings.warehouse_path), read_only=True,
                        config={"memory_limit": settings.duckdb_memory_limit}) as con:
        if not _events_view(con):
            log.info("feed changes: the run built no timeline; nothing compared")
            return 0
        if not path.is_file():
            _keep(con, path)
            events = con.execute("select count(*) from events").fetchone()[0]
            log.info("feed changes: first run, %d events recorded as the baseline; nobody notified", events)
            return 0
        new = _new_events(con, path)
        told = _tell(settings, new) if len(new) else 0
        _keep(con, path)
    log.info("feed changes: new events %d, notifications %d", len(new), told)
    return told
