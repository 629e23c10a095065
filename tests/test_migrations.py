"""The operational store's schema comes from Alembic revisions, on SQLite (local) and PostgreSQL (production)."""
from __future__ import annotations

import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select, text

from kodomo import migrations
from kodomo.operational import (CASEWORKER, RESTORE_PROTECTIONS, VIEW_INTAKE, AccessEntry, OperationalStoreError,
                                _FIRST_DECISION_COLUMNS,
                                WorkerDecision, _damaged_protections, _install_protections, _sqlite_engine,
                                accounts, audit_log, connect, log_access, metadata, record_decision, verify,
                                worker_decisions)
from kodomo.settings import Settings
from tests.test_audit_tamper import local, production, settings  # noqa: F401  (SQLite and PostgreSQL)


def _owner(settings: Settings) -> Engine:
    if settings.is_production:
        return create_engine(settings.operational_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return _sqlite_engine(settings.operational_url)


def _store_at_first_revision(settings: Settings) -> Engine:
    """A store as ``connect`` made it at revision 0001: its tables and their protections, with rows in them."""
    owner = _owner(settings)
    with owner.begin() as con:
        migrations.upgrade(con, "0001")
        _install_protections(con, _damaged_protections(con))
    log_access(owner, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P1"))
    record_decision(owner, WorkerDecision("111007", "R001", "P1", "w001", "protect", "頭部の外傷", 0.61, "3", 2))
    log_access(owner, AccessEntry("w002", CASEWORKER, VIEW_INTAKE, "131016", "R002", "P2"))
    return owner


def _rows(engine: Engine, table) -> list[dict]:
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(select(table).order_by(list(table.primary_key)[0]))]


def _first_revision_decisions(engine: Engine) -> list[dict]:
    columns = [worker_decisions.c[name] for name in _FIRST_DECISION_COLUMNS]
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(select(*columns).order_by(worker_decisions.c.id))]


def _revision(settings: Settings) -> str | None:
    """As the owner: the app role may not read the migration record."""
    owner = _owner(settings)
    with owner.connect() as con:
        revision = migrations.current_revision(con)
    owner.dispose()
    return revision


def test_an_empty_store_is_upgraded_to_the_head_which_matches_the_code(settings):
    engine = connect(settings)
    assert _revision(settings) == migrations.head_revision() == "0007"
    with _owner(settings).connect() as con:
        assert compare_metadata(MigrationContext.configure(con), metadata) == []
        assert {"audit_log", "worker_decisions", "accounts", "alembic_version"} <= set(inspect(con).get_table_names())
    assert verify(engine).line == "audit log intact: 0 rows"
    engine.dispose()


def test_a_store_of_the_previous_revision_keeps_its_rows_and_chain(settings, caplog):
    owner = _store_at_first_revision(settings)
    assert _revision(settings) == "0001" and "accounts" not in inspect(owner).get_table_names()
    before = _rows(owner, audit_log), _first_revision_decisions(owner)
    with caplog.at_level(logging.WARNING, logger="kodomo.operational"):
        engine = connect(settings)
    assert _revision(settings) == "0007" and caplog.text == ""  # nothing to restore: the protections stood
    assert (_rows(engine, audit_log), _first_revision_decisions(engine)) == before
    assert [(d["disposition"], d["amends"], d["band"]) for d in _rows(engine, worker_decisions)] == [(None,) * 3]
    assert verify(engine).line == "audit log intact: 3 rows" and _rows(engine, accounts) == []
    owner.dispose()
    engine.dispose()


def test_a_store_from_before_migrations_is_recognised_and_upgraded(settings):
    owner = _store_at_first_revision(settings)
    with owner.begin() as con:
        con.execute(text("DROP TABLE alembic_version"))  # as ``metadata.create_all`` left a store
    before = _rows(owner, audit_log)
    engine = connect(settings)
    assert _revision(settings) == "0007" and _rows(engine, audit_log) == before
    assert verify(engine).line == "audit log intact: 3 rows"
    assert RESTORE_PROTECTIONS not in {row["action"] for row in _rows(engine, audit_log)}
    owner.dispose()
    engine.dispose()


def test_a_store_with_only_some_tables_and_no_migration_record_is_refused(settings):
    owner = _owner(settings)
    with owner.begin() as con:
        migrations.upgrade(con, "0001")
        con.execute(text("DROP TABLE worker_decisions"))
        con.execute(text("DROP TABLE alembic_version"))
    owner.dispose()
    with pytest.raises(OperationalStoreError, match="has only some of its tables and no migration record"):
        connect(settings)


def test_connecting_to_a_store_at_the_head_changes_nothing(settings):
    engine = connect(settings)
    log_access(engine, AccessEntry("w001", CASEWORKER, VIEW_INTAKE, "111007", "R001", "P1"))
    again = connect(settings)
    assert _revision(settings) == "0007" and len(_rows(again, audit_log)) == 1
    assert verify(again).line == "audit log intact: 1 rows"
    engine.dispose()
    again.dispose()
