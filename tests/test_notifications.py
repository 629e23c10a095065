"""Change notifications from the feeds, on a copy of the scored `small` world: its first run only recorded the
events; a re-delivered report whose substantiation changed tells each other agency holding the child once, and the
reporting agency nothing; running the same landing again tells nobody anything."""
from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil

import duckdb
import pandas as pd
import pytest
from sqlalchemy import select

from kodomo.contracts import FEEDS, contract
from kodomo.operational import connect, notifications
from kodomo.settings import Settings
from kodomo.sharing.feed_changes import notify_feed_changes
from kodomo.sharing.notifications import feed_event_key
from orchestration.runner import build_platform

_NOT_DELIVERED = ("_file", "_line", "_delivery_date", "_seq")


@pytest.fixture(scope="module")
def copied(scored_world, tmp_path_factory) -> Settings:
    """The scored world's published state (archive, warehouse, kept feed events) in a home of its own."""
    home = tmp_path_factory.mktemp("notifications") / "home"
    shutil.copytree(scored_world["home"], home, ignore=shutil.ignore_patterns(
        "operational.db*", "mlflow", "dagster", "build", "run.lock"))
    return Settings(home=home, env="local", postgres_url="")


def _told(settings: Settings) -> list[tuple]:
    if not (settings.home / "operational.db").is_file():
        return []
    engine = connect(settings)
    try:
        with engine.connect() as con:
            return sorted(tuple(r) for r in con.execute(select(
                notifications.c.agency_id, notifications.c.change, notifications.c.source_agency_id,
                notifications.c.event_key)))
    finally:
        engine.dispose()


def _timeline_keys(settings: Settings) -> set[str]:
    """Every timeline event's key as ``feed_event_key`` makes it (the run makes them in SQL)."""
    per_child = {feed for feed in FEEDS if "local_child_id" in contract(feed).key}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        events = con.execute("""select source_feed, agency_id, local_child_id, source_id, event_type,
                                       coalesce(substantiation, worker_decision, checkup_result)
                                from intermediate.int_child_events
                                semi join marts.child using (person_key)""").fetchall()
    return {feed_event_key(feed, agency, f"{child}/{source}" if feed in per_child else source, event_type, value)
            for feed, agency, child, source, event_type, value in events}


def test_the_first_run_records_the_events_and_tells_nobody(copied, tmp_path):
    kept = set(pd.read_parquet(copied.feed_events_path).event_key)
    assert kept == _timeline_keys(copied) and len(kept) > 1000
    fresh = Settings(home=tmp_path, env="local", postgres_url="")
    shutil.copy(copied.warehouse_path, fresh.warehouse_path)
    assert notify_feed_changes(fresh) == 0
    assert set(pd.read_parquet(fresh.feed_events_path).event_key) == kept
    assert notify_feed_changes(fresh) == 0
    assert not (tmp_path / "operational.db").exists()  # nothing to tell: no store made


def _unsubstantiated_report_of_a_shared_child(settings: Settings) -> tuple[dict, dt.date]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        report = con.execute(f"""
            select reports.* exclude ({', '.join(_NOT_DELIVERED)})
            from valid.case_reports as reports
            inner join linkage.person_links as links using (agency_id, local_child_id)
            inner join marts.child as child using (person_key)
            where child.agency_count >= 2 and reports.substantiated = 'no'
            order by reports.agency_id, reports.report_id limit 1""").df().iloc[0].to_dict()
        last_delivery = con.execute("select max(_delivery_date) from valid.case_reports").fetchone()[0]
    return report, last_delivery


def _text(column: str, value) -> str:
    """A value as an agency's export writes it (source-feeds.md §3)."""
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.strftime("%Y-%m-%d" if contract("case_reports").column(column).type == "date" else
                              "%Y-%m-%d %H:%M:%S")
    return str(value)


def _redeliver(landing, report: dict, delivered: dt.date) -> None:
    """The report again, substantiated, in a later delivery of its agency (source-feeds.md file naming)."""
    folder = landing / "case_reports"
    folder.mkdir(parents=True)
    row = {**report, "substantiated": "yes", "updated_at": dt.datetime.combine(delivered, dt.time(9))}
    with open(folder / f"{report['agency_id']}_{delivered:%Y%m%d}_1.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(row)
        writer.writerow([_text(column, value) for column, value in row.items()])


def _holders(settings: Settings, report: dict) -> list[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [held] = con.execute("""
            select child.agency_ids from linkage.person_links as links
            inner join marts.child as child using (person_key)
            where links.agency_id = ? and links.local_child_id = ?""",
                             [report["agency_id"], report["local_child_id"]]).fetchone()
    return held.split(";")


def test_a_redelivered_substantiation_tells_each_other_holder_once_and_a_rerun_nobody(
        copied, scored_world, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KODOMO_HOME", str(copied.home))
    monkeypatch.setenv("KODOMO_ENV", "local")
    report, last_delivery = _unsubstantiated_report_of_a_shared_child(copied)
    landing = tmp_path / "landing"
    _redeliver(landing, report, last_delivery + dt.timedelta(days=1))
    shutil.copy(scored_world["landing"] / "agencies.csv", landing / "agencies.csv")

    caplog.set_level(logging.INFO, logger="kodomo.progress")
    build_platform(copied, landing)
    with duckdb.connect(str(copied.warehouse_path), read_only=True) as con:
        assert con.execute("select substantiated from valid.case_reports where agency_id = ? and report_id = ?",
                           [report["agency_id"], report["report_id"]]).fetchone() == ("yes",)
    others = sorted(set(_holders(copied, report)) - {report["agency_id"]})
    key = feed_event_key("case_reports", report["agency_id"], report["report_id"], "report_substantiated", "yes")
    assert others and _told(copied) == [(agency, "substantiation", report["agency_id"], key) for agency in others]
    assert f"feed changes: new events 1, notifications {len(others)}" in caplog.messages

    build_platform(copied, landing)
    assert _told(copied) == [(agency, "substantiation", report["agency_id"], key) for agency in others]
    assert "feed changes: new events 0, notifications 0" in caplog.messages
