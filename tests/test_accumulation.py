"""What caseworkers enter in the app becomes data for the next run: delivered as their agency's records, linked to
the child the worker confirmed, and in the marts' intake features."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account
from kodomo.cli import main
from kodomo.ingest.app_deliveries import deliver_app_entries
from kodomo.ingest.archive import APP_DELIVERIES, Archive
from kodomo.intake_entries import (check_entry, confirm_child, enter_intake, record_decision, update_intake,
                                   worker_decision_of)
from kodomo.operational import CASEWORKER, WorkerDecision, connect
from kodomo.settings import get_settings
from orchestration.runner import build_platform


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("accumulation")
    landing, home = root / "landing", root / "home"
    assert main(["generate", "--out", str(landing), "--scale", "small", "--seed", "3"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        build_platform(settings, landing)  # no store yet: the run goes on without one
        assert not (home / "operational.db").exists()
        yield settings, landing


def _known_child(con) -> dict:
    """A child one agency holds, with its agency's ID and the last run's key for it."""
    return con.execute("""
        select r.agency_id, r.local_child_id, l.person_key, r.child_name, r.child_kana, r.birth_date, r.sex,
               r.address_municipality_code, r.received_at
        from valid.case_reports r join linkage.person_links l using (agency_id, local_child_id)
        order by r.received_at desc, r.agency_id, r.report_id limit 1""").df().iloc[0].to_dict()


def test_entered_intakes_reach_the_marts_linked_to_the_confirmed_child(world):
    settings, landing = world
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        child = _known_child(con)
        agencies = load_agencies(con)
    agency = child["agency_id"]
    worker = Account("w-app", "入力 担当", agency, CASEWORKER)
    received = (child["received_at"] + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    form = {"received_at": received, "route": "school", "abuse_types": ["neglect"],
            "child_name": child["child_name"], "child_kana": child["child_kana"],
            "birth_date": child["birth_date"].strftime("%Y-%m-%d"), "sex": child["sex"],
            "address_municipality_code": child["address_municipality_code"], "injury_present": "yes"}
    engine = connect(settings)
    known = enter_intake(engine, worker, check_entry(agency, form, agencies), agencies)
    known = confirm_child(engine, worker, agency, known.report_id, 1, child["person_key"], "existing", agencies)
    record_decision(engine, worker, WorkerDecision(agency, known.report_id, child["person_key"], worker.user_id,
                                                   worker_decision_of("temporary_protection"), "頭部に新旧のあざ",
                                                   0.8, "1", 3, "temporary_protection"), "high", agencies)
    stranger = {**form, "child_name": "架空 花子", "child_kana": "カクウ ハナコ", "sex": "2"}
    new = enter_intake(engine, worker, check_entry(agency, stranger, agencies), agencies)
    new = update_intake(engine, worker, agency, new.report_id, 1, check_entry(agency, {**stranger, "route": "police"},
                                                                             agencies), agencies)
    engine.dispose()

    assert deliver_app_entries(settings) == {"case_reports": 2, "assessments": 2}
    assert deliver_app_entries(settings) == {}  # the same entries again: nothing new
    delivered = Archive(settings.archive_dir).files("case_reports", folder=True)
    assert [e.rel.split("/")[:2] for e in delivered if e.rel.startswith(APP_DELIVERIES)] == [
        [APP_DELIVERIES, "case_reports"]]

    build_platform(settings, landing)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        reports = con.execute("""
            select report_id, local_child_id, route, temporary_protection, substantiated from valid.case_reports
            where agency_id = ? and report_id like 'APP%' order by report_id""", [agency]).fetchall()
        assert reports == [(known.report_id, child["local_child_id"], "school", "yes", "undetermined"),
                           (new.report_id, new.local_child_id, "police", "no", "undetermined")]
        decided = con.execute("select worker_decision from valid.assessments where agency_id = ? and report_id = ?",
                              [agency, known.report_id]).fetchone()
        assert decided == ("protect",)
        features = dict(con.execute("""
            select report_id, person_key from marts.intake_features where agency_id = ? and report_id like 'APP%'
            """, [agency]).fetchall())
        assert set(features) == {known.report_id, new.report_id}
        [(linked,)] = con.execute("select distinct person_key from linkage.person_links "
                                  "where agency_id = ? and local_child_id = ?", [agency, child["local_child_id"]]
                                  ).fetchall()
        assert features[known.report_id] == linked
        assert features[new.report_id] != linked
        assert con.execute("select count(*) from quarantine.rows where file like 'app/%'").fetchone() == (0,)


def test_nothing_is_delivered_without_a_store_or_from_an_empty_one(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    settings = get_settings()
    assert deliver_app_entries(settings) == {}
    assert not (tmp_path / "home" / "operational.db").exists()  # an absent store is not created by a run
    connect(settings).dispose()
    assert deliver_app_entries(settings) == {} and not settings.archive_dir.exists()
