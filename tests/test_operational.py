"""The operational store on both back ends: SQLite under KODOMO_HOME (local) and PostgreSQL (production)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from kodomo.operational import (CASEWORKER, RECORD_DECISION, VIEW_INTAKE, AccessEntry, InvalidDecision,
                                WorkerDecision, audit_log, connect, database_url, decisions_for, log_access,
                                record_decision, worker_decisions)
from kodomo.settings import get_settings


@pytest.fixture(params=["local", "production"])
def engine(request, tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", request.param)
    if request.param == "production":
        monkeypatch.setenv("KODOMO_POSTGRES_URL", request.getfixturevalue("scratch_postgres_url"))
    engine = connect(get_settings())
    yield engine
    engine.dispose()


def _decision(**overrides) -> WorkerDecision:
    values = dict(agency_id="111007", report_id="R001", person_key="P42", worker_id="w001", decision="protect",
                  rationale="頭部への暴力を本人が訴えている", risk_score_shown=0.4321, model_version="3",
                  checklist_verdict=2)
    return WorkerDecision(**{**values, **overrides})


def _rows(engine, table) -> list[dict]:
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(select(table).order_by(table.c.id))]


def test_the_back_end_is_chosen_by_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KODOMO_ENV", raising=False)
    assert database_url(get_settings()) == f"sqlite:///{tmp_path / 'home' / 'operational.db'}"
    monkeypatch.setenv("KODOMO_ENV", "production")
    monkeypatch.setenv("KODOMO_POSTGRES_URL", "postgresql://postgres@db:5432/kodomo")
    assert database_url(get_settings()) == "postgresql+psycopg://postgres@db:5432/kodomo"


def test_the_local_store_is_a_file_under_kodomo_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KODOMO_ENV", raising=False)
    connect(get_settings()).dispose()
    assert (tmp_path / "home" / "operational.db").is_file()


def test_views_are_logged_with_who_when_and_what(engine):
    log_access(engine, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P42"))
    [row] = _rows(engine, audit_log)
    assert (row["user_id"], row["role"], row["action"]) == ("w001", CASEWORKER, VIEW_INTAKE)
    assert (row["agency_id"], row["report_id"], row["person_key"]) == ("111007", "R001", "P42")


def test_times_are_the_databases_own(engine):
    log_access(engine, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P42"))
    record_decision(engine, _decision())
    with engine.connect() as con:
        now = _utc(con.scalar(select(func.current_timestamp())))
    logged = [_utc(row["at"]) for row in _rows(engine, audit_log)]
    [decided] = [_utc(row["decided_at"]) for row in _rows(engine, worker_decisions)]
    assert logged == sorted(logged) and decided == logged[1]
    assert all(abs(now - at) < dt.timedelta(seconds=5) for at in logged)
    with pytest.raises(TypeError):
        AccessEntry("w001", CASEWORKER, VIEW_INTAKE, at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def _utc(at: dt.datetime) -> dt.datetime:
    """SQLite returns the database's UTC times naive; PostgreSQL aware."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def test_a_decision_is_stored_with_what_the_worker_saw_and_audited(engine):
    record_decision(engine, _decision())
    record_decision(engine, _decision(decision="undecided", rationale="  確認中  ", worker_id="w002"))
    first, second = decisions_for(engine, "111007", "R001")
    assert (first["decision"], first["risk_score_shown"], first["model_version"]) == ("protect", 0.4321, "3")
    assert first["checklist_verdict"] == 2 and second["rationale"] == "確認中"
    assert decisions_for(engine, "111007", "R999") == []
    assert [r["action"] for r in _rows(engine, audit_log)] == [RECORD_DECISION, RECORD_DECISION]


@pytest.mark.parametrize("overrides", [{"rationale": "   "}, {"decision": "maybe"}, {"worker_id": ""}])
def test_an_incomplete_decision_is_refused(engine, overrides):
    with pytest.raises(InvalidDecision):
        record_decision(engine, _decision(**overrides))
    assert _rows(engine, worker_decisions) == [] and _rows(engine, audit_log) == []


def test_the_database_itself_refuses_a_decision_without_rationale(engine):
    with pytest.raises(DBAPIError), engine.begin() as con:
        con.execute(worker_decisions.insert().values(**{**vars(_decision()), "rationale": " "}, decided_at=func.now()))


@pytest.mark.parametrize("table", [audit_log, worker_decisions])
def test_logs_and_decisions_cannot_be_changed_or_deleted(engine, table):
    log_access(engine, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P42"))
    record_decision(engine, _decision())
    for statement in (update(table).values(agency_id="000000"), delete(table)):
        # The app role is denied the statement on PostgreSQL; the triggers refuse it on SQLite.
        with pytest.raises(DBAPIError, match="append-only|permission denied"), engine.begin() as con:
            con.execute(statement)
    assert all(row["agency_id"] == "111007" for row in _rows(engine, table))


def test_connecting_again_keeps_what_was_stored(engine):
    record_decision(engine, _decision())
    again = connect(get_settings())
    assert len(decisions_for(again, "111007", "R001")) == 1
    again.dispose()


def test_a_decisions_disposition_amendment_and_band_are_stored_and_covered_by_its_digest(engine):
    from kodomo.operational import verify

    record_decision(engine, _decision())
    record_decision(engine, _decision(decision="no_protect", disposition="home_guidance", amends=1, band="high"))
    first, second = _rows(engine, worker_decisions)
    assert (first["disposition"], first["amends"], first["band"]) == (None, None, None)
    assert (second["disposition"], second["amends"], second["band"]) == ("home_guidance", first["id"], "high")
    assert verify(engine).ok
    with pytest.raises(InvalidDecision, match="band must be one of low, medium, high, not 'red'"):
        record_decision(engine, _decision(band="red"))
