"""Notices sent in the app become data: the next run delivers them as their agency's alerts rows, with the person
fields of the child's record and the agency's one ID for the child, once; the linkage puts them on the same child,
and the lists still show each notice once."""
from __future__ import annotations

import csv
import io

import duckdb
import pytest
from sqlalchemy import select

from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account
from kodomo.cli import main
from kodomo.contracts import person_feeds
from kodomo.ingest.app_deliveries import NOTICE_CHILD_PREFIX, deliver_app_entries
from kodomo.ingest.archive import APP_DELIVERIES, Archive
from kodomo.operational import CASEWORKER, connect, notifications
from kodomo.settings import get_settings
from kodomo.sharing.notices import app_alert_id, inbox, send_notice
from orchestration.runner import build_platform


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("noticedeliveries")
    landing, home = root / "landing", root / "home"
    assert main(["generate", "--out", str(landing), "--scale", "small", "--seed", "7"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        build_platform(settings, landing)
        yield settings, landing


def _child(con, agencies) -> dict:
    """A child a municipality holds but its CGC does not, the municipality's record of it, and a destination."""
    person_key, municipality, local_child_id = con.execute("""
        select child.person_key, links.agency_id, links.local_child_id
        from marts.child as child
        inner join linkage.person_links as links using (person_key)
        inner join marts.agencies as agencies using (agency_id)
        where agencies.agency_type = 'municipality' and child.agency_count = 1
        order by child.person_key limit 1""").fetchone()
    destination = next(a for a in sorted(agencies) if agencies[a].agency_type == "municipality" and a != municipality)
    return {"person_key": person_key, "municipality": municipality, "local_child_id": local_child_id,
            "cgc": agencies[municipality].cgc_id, "destination": destination}


def _delivered(settings) -> dict[str, dict]:
    """alert_id -> the app's delivered alerts row."""
    rows = {}
    for entry in Archive(settings.archive_dir).files("alerts", folder=True):
        if entry.rel.startswith(f"{APP_DELIVERIES}/"):
            rows |= {r["alert_id"]: r for r in csv.DictReader(io.StringIO(entry.read().decode("utf-8")))}
    return rows


def test_app_notices_are_delivered_once_as_alerts_of_their_agency_and_reach_the_same_child(world):
    settings, landing = world
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        agencies = load_agencies(con)
        child = _child(con, agencies)
        fields = con.execute(" union all ".join(
            f"select child_name, child_kana, sex, birth_date::varchar from valid.{feed} "
            "where agency_id = $agency and local_child_id = $local" for feed in person_feeds()),
            {"agency": child["municipality"], "local": child["local_child_id"]}).fetchall()
        engine = connect(settings)
        moved = send_notice(engine, con, Account("w-muni", "市の職員", child["municipality"], CASEWORKER),
                            child["person_key"], "moved", agencies, summary="転居, 継続支援をお願いします",
                            destination_municipality_code=child["destination"])
        missing = send_notice(engine, con, Account("w-cgc", "児相の職員", child["cgc"], CASEWORKER),
                              child["person_key"], "missing", agencies, summary="所在不明")
    moved_id, missing_id = (int(n.ref.removeprefix("app:")) for n in (moved, missing))

    assert deliver_app_entries(settings) == {"alerts": 2}
    assert deliver_app_entries(settings) == {}  # the same notices again: nothing new
    rows = _delivered(settings)
    by_municipality, by_cgc = rows[app_alert_id(moved_id)], rows[app_alert_id(missing_id)]
    assert (by_municipality["agency_id"], by_municipality["alert_type"], by_municipality["destination_agency_id"],
            by_municipality["summary"]) == (child["municipality"], "moved", child["destination"],
                                            "転居, 継続支援をお願いします")
    assert by_municipality["local_child_id"] == child["local_child_id"]  # the municipality's own record
    assert (by_cgc["agency_id"], by_cgc["alert_type"], by_cgc["destination_agency_id"]) == (child["cgc"], "missing",
                                                                                            "")
    assert by_cgc["local_child_id"] == f"{NOTICE_CHILD_PREFIX}{missing_id:06d}"  # the CGC holds no record of it
    for row in (by_municipality, by_cgc):
        assert (row["child_name"], row["child_kana"], row["sex"], row["birth_date"]) in fields

    with engine.connect() as store:
        told = store.execute(select(notifications.c.agency_id, notifications.c.event_key)).all()
    build_platform(settings, landing)
    with engine.connect() as store:  # holders were told when the notices were sent, not again when they are data
        assert store.execute(select(notifications.c.agency_id, notifications.c.event_key)).all() == told
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from quarantine.rows where file like 'app/%'").fetchone() == (0,)
        linked = con.execute("""
            select links.agency_id, links.local_child_id, links.person_key
            from valid.alerts inner join linkage.person_links as links using (agency_id, local_child_id)
            where alert_id in (?, ?) order by alert_id""", [app_alert_id(moved_id), app_alert_id(missing_id)]
                             ).fetchall()
        assert [(a, c) for a, c, _ in linked] == [(child["municipality"], child["local_child_id"]),
                                                   (child["cgc"], by_cgc["local_child_id"])]
        assert len({key for _, _, key in linked}) == 1
        events = con.execute("""select event_type from marts.child_timeline where source_id in (?, ?)
                                order by source_id""", [app_alert_id(moved_id), app_alert_id(missing_id)]).fetchall()
        assert events == [("alert_moved",), ("alert_missing",)]
        received = inbox(engine, con, Account("w-dest", "転居先", child["destination"], CASEWORKER), agencies)
        assert [n.ref for n in received if n.person_key == linked[0][2] and n.kind == "moved"] == [moved.ref]
    assert deliver_app_entries(settings) == {}  # after the run the CGC's record is linked: the same ID
    engine.dispose()
