"""Attacks on the operational store, as issue 9 tried them: each is refused, or `verify` finds the broken link.

SQLite has one principal (whoever can write the file); PostgreSQL has the app role (``kodomo_app``: what the app
and pipeline connect as) and the owner (the superuser that runs migrations). The seeded log has four rows:
views by w001 and w002, w001's decision 1 (``protect``), and a view by w003.
"""
from __future__ import annotations

import logging
import sqlite3
import threading

import psycopg
import pytest
from sqlalchemy import select

from kodomo.operational import (CASEWORKER, RESTORE_PROTECTIONS, VIEW_INTAKE, AccessEntry, OperationalStoreError,
                                WorkerDecision, _row_hash, audit_log, connect, log_access, record_decision, verify,
                                worker_decisions)
from kodomo.settings import Settings, get_settings

NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"  # a time the SQLite triggers accept


@pytest.fixture
def local(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    return get_settings()


@pytest.fixture
def production(tmp_path, monkeypatch, scratch_postgres_url) -> Settings:
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "production")
    monkeypatch.setenv("KODOMO_POSTGRES_URL", scratch_postgres_url)
    return get_settings()


@pytest.fixture(params=["local", "production"])
def settings(request) -> Settings:
    return request.getfixturevalue(request.param)


def _seed(engine) -> None:
    log_access(engine, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P1"))
    log_access(engine, AccessEntry("w002", CASEWORKER, VIEW_INTAKE, "111007", "R002", "P2"))
    record_decision(engine, WorkerDecision("111007", "R001", "P1", "w001", "protect", "頭部の外傷", 0.61, "3", 2))
    log_access(engine, AccessEntry("w003", CASEWORKER, VIEW_INTAKE, "131016", "R003", "P3"))


@pytest.fixture
def seeded(settings):
    engine = connect(settings)
    _seed(engine)
    yield engine
    engine.dispose()


def _attack(settings: Settings, statements: list[str], as_owner: bool = True) -> None:
    """Run raw SQL as an attacker would: with the SQLite file, or as the PostgreSQL owner or app role."""
    if not settings.is_production:
        with sqlite3.connect(settings.home / "operational.db", isolation_level=None) as con:
            for statement in statements:
                con.execute(statement)
        return
    url = settings.operational_url if as_owner else settings.operational_app_url
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


def _rows(engine, table) -> list[dict]:
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(select(table).order_by(table.c.id))]


def _refused(settings, engine, statements, message, as_owner=True) -> None:
    before = (_rows(engine, audit_log), _rows(engine, worker_decisions))
    with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match=message):
        _attack(settings, statements, as_owner)
    assert (_rows(engine, audit_log), _rows(engine, worker_decisions)) == before
    assert verify(engine).line == "audit log intact: 4 rows"


_AUDIT_COLUMNS = "at, user_id, role, action, prev_hash, hash"
_DECISION_COLUMNS = "decided_at, agency_id, report_id, worker_id, decision, rationale"


@pytest.mark.parametrize("statement, message", [
    # issue 9: INSERT OR REPLACE replaced audit row 1 and decision 1 without firing a trigger
    (f"INSERT OR REPLACE INTO audit_log (id, {_AUDIT_COLUMNS}) VALUES (1, {NOW}, 'intruder', 'caseworker', "
     "'view_intake', '', '')", "append-only"),
    (f"REPLACE INTO worker_decisions (id, {_DECISION_COLUMNS}) VALUES (1, {NOW}, '111007', 'R001', 'w001', "
     "'no_protect', 'x')", "append-only"),
    (f"INSERT INTO worker_decisions (id, {_DECISION_COLUMNS}) VALUES (1, {NOW}, '111007', 'R001', 'w001', "
     "'protect', 'x') ON CONFLICT (id) DO UPDATE SET decision = 'no_protect'", "append-only"),
    ("UPDATE audit_log SET user_id = 'intruder' WHERE id = 1", "append-only"),
    ("UPDATE worker_decisions SET decision = 'no_protect'", "append-only"),
    ("DELETE FROM audit_log WHERE id = 1", "append-only"),
    ("DELETE FROM worker_decisions", "append-only"),  # SQLite's truncate
    (f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES ('2020-01-01 00:00:00.000', 'intruder', 'caseworker', "
     "'view_intake', '', '')", "must be the database time"),
])
def test_sqlite_refuses_rewrites(local, statement, message):
    engine = connect(local)
    _seed(engine)
    _refused(local, engine, [statement], message)


@pytest.mark.parametrize("statements, message", [
    (["UPDATE audit_log SET user_id = 'intruder' WHERE id = 1"], "permission denied"),
    (["UPDATE worker_decisions SET decision = 'no_protect'"], "permission denied"),
    (["DELETE FROM audit_log WHERE id = 1"], "permission denied"),
    (["TRUNCATE audit_log"], "permission denied"),
    (["TRUNCATE worker_decisions"], "permission denied"),
    ([f"INSERT INTO worker_decisions (id, {_DECISION_COLUMNS}) VALUES (1, now(), '111007', 'R001', 'w001', "
      "'protect', 'x') ON CONFLICT (id) DO UPDATE SET decision = 'no_protect'"], "permission denied"),
    ([f"INSERT INTO audit_log (id, {_AUDIT_COLUMNS}) VALUES (1, now(), 'intruder', 'caseworker', 'view_intake', "
      "'', '')"], "duplicate key"),
    ([f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES ('2020-01-01', 'intruder', 'caseworker', 'view_intake', "
      "'', '')"], "must be the database time"),
    (["DROP TRIGGER audit_log_append_only ON audit_log"], "must be owner"),
    (["ALTER TABLE audit_log DISABLE TRIGGER ALL"], "must be owner"),
    (["SET session_replication_role = replica"], "permission denied"),
    (["CREATE OR REPLACE FUNCTION kodomo_append_only() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ begin return old; end $$"], "permission denied"),
    (["DROP TABLE audit_log"], "must be owner"),
])
def test_the_postgres_app_role_may_only_insert_and_read(production, statements, message):
    engine = connect(production)
    assert engine.url.username == "kodomo_app"
    _seed(engine)
    _refused(production, engine, statements, message, as_owner=False)


@pytest.mark.parametrize("statements", [
    ["UPDATE audit_log SET user_id = 'intruder' WHERE id = 1"],
    ["DELETE FROM worker_decisions"],
    ["TRUNCATE audit_log"],
    ["TRUNCATE worker_decisions"],
    # issue 9: replica mode skipped the triggers; they now fire ALWAYS
    ["SET session_replication_role = replica", "UPDATE worker_decisions SET decision = 'no_protect'"],
    ["SET session_replication_role = replica", "TRUNCATE audit_log"],
])
def test_the_postgres_owner_is_refused_too_while_the_triggers_stand(production, statements):
    engine = connect(production)
    _seed(engine)
    _refused(production, engine, statements, "append-only")


# Attacks with the owner's rights that first remove a protection: (SQLite, PostgreSQL) statements, the audit row
# verify names, what it says.
DETECTED = {
    "edit a row": (
        ["DROP TRIGGER audit_log_no_update",
         "UPDATE audit_log SET user_id = 'intruder', at = '2020-01-01 00:00:00.000000' WHERE id = 2"],
        ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
         "UPDATE audit_log SET user_id = 'intruder', at = '2020-01-01' WHERE id = 2"],
        2, "does not match its hash"),
    "rewrite a decision": (
        ["DROP TRIGGER worker_decisions_no_update", "UPDATE worker_decisions SET decision = 'no_protect'"],
        ["DROP TRIGGER worker_decisions_append_only ON worker_decisions",
         "UPDATE worker_decisions SET decision = 'no_protect'"],
        3, "decision 1 no longer matches"),
    "delete a row": (
        ["DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log WHERE id = 2"],
        ["DROP TRIGGER audit_log_append_only ON audit_log", "DELETE FROM audit_log WHERE id = 2"],
        3, "does not chain"),
    "delete a decision": (
        ["DROP TRIGGER worker_decisions_no_delete", "DELETE FROM worker_decisions"],
        ["DROP TRIGGER worker_decisions_no_truncate ON worker_decisions", "TRUNCATE worker_decisions"],
        3, "decision 1 it records is missing"),
    "reorder rows": (
        ["DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET id = 100 WHERE id = 1",
         "UPDATE audit_log SET id = 1 WHERE id = 2", "UPDATE audit_log SET id = 2 WHERE id = 100"],
        ["SET session_replication_role = replica", "ALTER TABLE audit_log DISABLE TRIGGER USER",
         "UPDATE audit_log SET id = 100 WHERE id = 1", "UPDATE audit_log SET id = 1 WHERE id = 2",
         "UPDATE audit_log SET id = 2 WHERE id = 100"],
        1, "does not chain"),
    "forge a row without the chain": (
        [f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES ({NOW}, 'intruder', 'caseworker', 'view_intake', "
         f"'{'0' * 64}', '{'0' * 64}')"],
        [f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (now(), 'intruder', 'caseworker', 'view_intake', "
         f"'{'0' * 64}', '{'0' * 64}')"],
        5, "does not chain"),
}


@pytest.mark.parametrize("attack", DETECTED)
def test_rewrites_with_protections_removed_are_found_by_verify(settings, seeded, attack):
    sqlite_statements, postgres_statements, broken_row, what = DETECTED[attack]
    _attack(settings, postgres_statements if settings.is_production else sqlite_statements)
    found = verify(seeded)
    assert (found.ok, found.first_broken_id) == (False, broken_row) and what in found.message
    assert found.line == f"audit log broken at row {broken_row}: {found.message}"


def test_emptied_tables_are_found_by_the_missing_protections_and_restored_at_start(settings, seeded, caplog):
    if settings.is_production:
        _attack(settings, ["DROP TRIGGER audit_log_no_truncate ON audit_log",
                           "DROP TRIGGER worker_decisions_no_truncate ON worker_decisions",
                           "TRUNCATE audit_log, worker_decisions"])
        removed = "audit_log_no_truncate missing, worker_decisions_no_truncate missing"
    else:
        _attack(settings, ["DROP TRIGGER audit_log_no_delete", "DROP TRIGGER worker_decisions_no_delete",
                           "DELETE FROM audit_log", "DELETE FROM worker_decisions"])
        removed = "audit_log_no_delete missing, worker_decisions_no_delete missing"
    assert verify(seeded).line == f"audit log broken: protections {removed}"

    with caplog.at_level(logging.WARNING, logger="kodomo.operational"):
        again = connect(settings)
    assert f"restored protections {removed}" in caplog.text
    [restored] = _rows(again, audit_log)
    assert (restored["action"], restored["detail"]) == (RESTORE_PROTECTIONS, removed)
    assert verify(again).line == (f"audit log broken at row {restored['id']}: protections had been removed or "
                                  f"changed ({removed}) and were restored at start")
    statement = "TRUNCATE audit_log" if settings.is_production else "DELETE FROM audit_log"
    with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
        _attack(settings, [statement])
    again.dispose()


def test_a_disabled_or_replaced_postgres_protection_is_found_and_restored(production):
    engine = connect(production)
    log_access(engine, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P1"))
    _attack(production, ["ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",  # not ALWAYS: replica skips
                         "CREATE OR REPLACE FUNCTION kodomo_database_time() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ begin return new; end $$"])
    assert verify(engine).line == ("audit log broken: protections audit_log_append_only disabled, "
                                   "kodomo_database_time changed")
    again = connect(production)
    with pytest.raises(psycopg.Error, match="append-only"):
        _attack(production, ["SET session_replication_role = replica", "DELETE FROM audit_log"])
    with pytest.raises(psycopg.Error, match="must be the database time"):
        _attack(production, [f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES ('2020-01-01', 'intruder', "
                             "'caseworker', 'view_intake', '', '')"])
    assert _rows(again, audit_log)[-1]["detail"] == "audit_log_append_only disabled, kodomo_database_time changed"
    again.dispose()


def test_a_chain_verifies_and_an_edited_row_is_the_first_broken_link(settings):
    engine = connect(settings)
    for n in range(30):
        log_access(engine, AccessEntry(f"w{n:03}", CASEWORKER, VIEW_INTAKE, "111007", f"R{n:03}", f"P{n}"))
    intact = verify(engine)
    assert intact.line == "audit log intact: 30 rows" and intact.last_hash == _rows(engine, audit_log)[-1]["hash"]
    if settings.is_production:
        edit = ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
                "UPDATE audit_log SET report_id = 'R999' WHERE id IN (17, 23)"]
    else:
        edit = ["DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET report_id = 'R999' WHERE id IN (17, 23)"]
    _attack(settings, edit)
    broken = verify(engine)
    assert (broken.ok, broken.rows_checked, broken.first_broken_id) == (False, 17, 17)
    engine.dispose()


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(local):
    engine = connect(local)
    for n in range(3):
        log_access(engine, AccessEntry(f"w{n:03}", CASEWORKER, VIEW_INTAKE, "111007", f"R{n:03}", f"P{n}"))
    edited = _rows(engine, audit_log)[1] | {"user_id": "intruder"}
    _attack(local, ["DROP TRIGGER audit_log_no_update",
                    f"UPDATE audit_log SET user_id = 'intruder', hash = '{_row_hash(edited)}' WHERE id = 2"])
    found = verify(engine)
    assert (found.first_broken_id, found.message) == (3, "it does not chain to the row before it (a row was "
                                                         "deleted, inserted, moved or rehashed)")


def test_a_decision_without_its_audit_row_is_found(production):
    engine = connect(production)
    _attack(production, [f"INSERT INTO worker_decisions ({_DECISION_COLUMNS}) VALUES (now(), '111007', 'R001', "
                         "'w001', 'no_protect', 'x')"], as_owner=False)
    assert verify(engine).line == "audit log broken: decision 1 has no audit row"


def test_concurrent_appends_keep_one_chain(settings):
    engine = connect(settings)
    threads, per_thread = 8, 25

    def append(worker: int) -> None:
        for n in range(per_thread):
            if n % 5 == 0:
                record_decision(engine, WorkerDecision("111007", f"R{worker}", None, f"w{worker}", "undecided",
                                                       f"確認中 {n}", None, None))
            else:
                log_access(engine, AccessEntry(f"w{worker}", CASEWORKER, VIEW_INTAKE, "111007", f"R{n}"))

    running = [threading.Thread(target=append, args=(worker,)) for worker in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    assert verify(engine).line == f"audit log intact: {threads * per_thread} rows"
    times = [row["at"] for row in _rows(engine, audit_log)]
    assert times == sorted(times)
    assert len(_rows(engine, worker_decisions)) == threads * per_thread // 5
    engine.dispose()


def test_a_broken_tail_is_logged_at_start(settings, seeded, caplog):
    if settings.is_production:
        _attack(settings, ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
                           "UPDATE audit_log SET user_id = 'intruder' WHERE id = 4",
                           "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only"])
    else:
        _attack(settings, ["DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET user_id = 'intruder' WHERE id = 4",
                           "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                           "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"])
    with caplog.at_level(logging.ERROR, logger="kodomo.operational"):
        connect(settings).dispose()
    assert "audit log broken at row 4: its content does not match its hash" in caplog.text


def test_a_store_from_before_the_chain_is_refused(local):
    local.home.mkdir(parents=True)
    with sqlite3.connect(local.home / "operational.db") as con:
        con.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at DATETIME, user_id TEXT, role TEXT, "
                    "action TEXT, agency_id TEXT, report_id TEXT, person_key TEXT)")
    with pytest.raises(OperationalStoreError, match="predates the tamper-evident audit log"):
        connect(local)


def test_the_app_role_owns_nothing(production):
    connect(production).dispose()
    url = production.operational_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as con:
        role = con.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                           "WHERE rolname = 'kodomo_app'").fetchone()
        owners = con.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename IN "
                             "('audit_log', 'worker_decisions', 'accounts', 'alembic_version')").fetchall()
        granted = con.execute("SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                              "WHERE grantee = 'kodomo_app' ORDER BY 1, 2").fetchall()
        status_only = con.execute("SELECT table_name, column_name, privilege_type FROM "
                                  "information_schema.role_column_grants WHERE grantee = 'kodomo_app' "
                                  "AND privilege_type = 'UPDATE' ORDER BY 1, 2").fetchall()
    assert role == (False, False, False, False) and owners == [("postgres",)]
    # accounts and app intakes change (passwords, deactivation; a corrected entry) but are never deleted; of a
    # consultation only its status changes, of a review only its outcome, of a parent's code only its revocation;
    # the migration record is the owner's
    assert granted == [("accounts", "INSERT"), ("accounts", "SELECT"), ("accounts", "UPDATE"),
                       ("app_intakes", "INSERT"), ("app_intakes", "SELECT"), ("app_intakes", "UPDATE"),
                       ("audit_log", "INSERT"), ("audit_log", "SELECT"),
                       ("case_record_versions", "INSERT"), ("case_record_versions", "SELECT"),
                       ("case_records", "INSERT"), ("case_records", "SELECT"), ("case_records", "UPDATE"),
                       ("consultation_departments", "INSERT"), ("consultation_departments", "SELECT"),
                       ("consultation_messages", "INSERT"), ("consultation_messages", "SELECT"),
                       ("consultations", "INSERT"), ("consultations", "SELECT"),
                       ("decision_reviews", "INSERT"), ("decision_reviews", "SELECT"),
                       ("feed_notice_acks", "INSERT"), ("feed_notice_acks", "SELECT"),
                       ("health_handover_acks", "INSERT"), ("health_handover_acks", "SELECT"),
                       ("linkage_decisions", "INSERT"), ("linkage_decisions", "SELECT"),
                       ("notice_recipients", "INSERT"), ("notice_recipients", "SELECT"),
                       ("notices", "INSERT"), ("notices", "SELECT"),
                       ("notification_reads", "INSERT"), ("notification_reads", "SELECT"),
                       ("notifications", "INSERT"), ("notifications", "SELECT"),
                       ("parent_access_codes", "INSERT"), ("parent_access_codes", "SELECT"),
                       ("worker_decisions", "INSERT"), ("worker_decisions", "SELECT")]
    assert {c for t, c, _ in status_only if t == "decision_reviews"} == {"outcome", "reviewer_id", "reviewed_at",
                                                                          "comment"}
    assert {c for t, c, _ in status_only if t == "notice_recipients"} == {"acknowledged_at", "acknowledged_by"}
    assert ("consultations", "status", "UPDATE") in status_only
    assert {(t, c) for t, c, _ in status_only if t == "consultations"} == {("consultations", "status")}
