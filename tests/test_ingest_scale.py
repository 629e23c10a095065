"""Bounded-memory and incremental ingestion give exactly what reading everything at once gives.

The warehouse tables a feed writes (raw, valid, versions, quarantine, meta.files, the report) must not depend on
how many records are checked at once, on how many runs the files arrived over, or on a run killed midway.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodomo.contracts import contract
from kodomo.ingest import feed as feed_module
from kodomo.ingest.archive import Archive, ArchiveError
from kodomo.ingest.feed import ingest_feed
from kodomo.quality import validate_frame, validate_table
from tests.conftest import AGENCIES, LandingBuilder, csv_bytes, report_row

AGENCY_IDS = frozenset(a["agency_id"] for a in AGENCIES)
TABLES = ("raw.case_reports", "valid.case_reports", "valid.case_reports_versions", "quarantine.rows",
          "quarantine.files", "meta.files", "meta.feed_report")
WHOLE = 10**9  # every record of a run in one chunk


def _deliveries() -> list[tuple[str, bytes]]:
    """Files of one municipality over six days, with every kind of mess the ingestion resolves or quarantines."""
    day = "111007_202107{:02d}_1.csv"
    rows = [report_row(report_id=f"R{i:03d}", local_child_id=f"A{i:03d}") for i in range(12)]
    bad_date = report_row(report_id="R100", received_at="2021-13-40")  # quarantined, then fixed on day 4
    fixed = report_row(report_id="R100", received_at="2021-06-30 10:00", updated_at="2021-07-04 09:00")
    newer = report_row(report_id="R001", local_child_id="A001", updated_at="2021-07-03 09:00", severe_harm="yes")
    malformed = csv_bytes(rows[:2]) + b"111007,x,y\n"
    return [
        (day.format(1), csv_bytes(rows[:5])),
        (day.format(2), csv_bytes([*rows[5:9], bad_date, bad_date])),  # the same bad row twice: quarantined once
        (day.format(3), csv_bytes([newer, rows[9]], header=[*report_row(), "memo"])),
        (day.format(4), csv_bytes([fixed, report_row(report_id="R101", agency_id="999999")])),
        (day.format(5), csv_bytes(rows[10:], header=[c for c in report_row() if c != "route"])),  # file quarantined
        (day.format(6), malformed),
    ]


def _landing(root: Path, files: list[tuple[str, bytes]]) -> Path:
    LandingBuilder(root)
    folder = root / "case_reports"
    folder.mkdir(exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)
    return root


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every table the feed writes, row for row in the warehouse's order (the order is part of the result)."""
    return {t: con.execute(f"select * from {t}").fetchall() for t in TABLES}


def _ingest_once(landing: Path, home: Path, chunk_rows: int, agencies=AGENCY_IDS,
                 **batching) -> dict[str, list[tuple]]:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        ingest_feed(con, contract("case_reports"), landing, agencies, home / "staging.duckdb",
                    archive=Archive(home / "archive"), chunk_rows=chunk_rows, **batching)
        return _tables(con)


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> dict[str, list[tuple]]:
    root = tmp_path_factory.mktemp("whole")
    return _ingest_once(_landing(root / "landing", _deliveries()), root, WHOLE)


def test_the_fixture_holds_every_kind_of_outcome(whole):
    rules = {row[4]: row[8] for row in whole["quarantine.rows"]}
    assert rules == {"invalid_date": "resolved", "invalid_agency_id": "open", "malformed_row": "open"}
    assert len([r for r in whole["quarantine.rows"] if r[4] == "invalid_date"]) == 2
    assert [r[2] for r in whole["meta.files"] if r[2] != "read"] == ["quarantined"]
    assert any(r[8] == "memo" for r in whole["meta.files"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk_rows=st.integers(min_value=1, max_value=40), batch_bytes=st.sampled_from([1, 400, 1500, WHOLE]),
       commit_rows=st.sampled_from([1, 10, WHOLE]))
def test_any_chunk_size_gives_the_tables_of_one_whole_chunk(tmp_path_factory, whole, chunk_rows, batch_bytes,
                                                            commit_rows):
    """Records checked ``chunk_rows`` at a time, files read ``batch_bytes`` at a time (one file each at 1 byte) and
    staged ``commit_rows`` at a time."""
    root = tmp_path_factory.mktemp("chunked")
    landing = _landing(root / "landing", _deliveries())
    assert _ingest_once(landing, root, chunk_rows, batch_bytes=batch_bytes, commit_rows=commit_rows) == whole


@pytest.mark.parametrize("batch_bytes", [1, 1500])
def test_files_checked_by_worker_processes_give_the_tables_of_one_process(tmp_path, whole, monkeypatch, batch_bytes):
    monkeypatch.setattr(feed_module, "POOL_BYTES", 0)  # the fixture's few kilobytes are worth the workers here
    landing = _landing(tmp_path / "landing", _deliveries())
    assert _ingest_once(landing, tmp_path, 3, batch_bytes=batch_bytes, workers=2) == whole


def test_an_error_in_a_worker_process_stops_the_feed_and_stages_nothing_after_it(tmp_path, whole, monkeypatch):
    monkeypatch.setattr(feed_module, "POOL_BYTES", 0)
    landing = _landing(tmp_path / "landing", _deliveries())
    _ingest_once(landing, tmp_path, WHOLE)
    kept = sorted((tmp_path / "archive" / "case_reports").iterdir())[3]  # the fourth day's file, altered
    kept.chmod(0o644)
    kept.write_bytes(kept.read_bytes() + b"\n")
    (tmp_path / "staging.duckdb").unlink()  # every file is read again, by the workers
    with pytest.raises(ArchiveError, match=f"archived file {kept} does not match its sha256"):
        _ingest_once(landing, tmp_path, WHOLE, batch_bytes=1, commit_rows=1, workers=2)
    with duckdb.connect(str(tmp_path / "staging.duckdb")) as staging:
        staged = sorted(f for (f,) in staging.execute("select file from files").fetchall())
    assert staged == [f"case_reports/{name}" for name, _ in _deliveries()[:3]]  # the files before it, whole


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(split=st.lists(st.integers(min_value=1, max_value=5), max_size=3, unique=True).map(sorted),
       chunk_rows=st.sampled_from([1, 3, WHOLE]))
def test_files_arriving_over_several_runs_give_the_tables_of_one_run(tmp_path_factory, whole, split, chunk_rows):
    """Each run reads only the new files (the rest comes from the staging store), and the result is the same."""
    root = tmp_path_factory.mktemp("incremental")
    files = _deliveries()
    for end in [*split, len(files)]:
        landing = _landing(root / "landing", files[:end])
        result = _ingest_once(landing, root, chunk_rows)
    assert result == whole


def _as_sets(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """The tables' rows in a fixed order: a delivery's update appends where a rewrite sorts."""
    return {name: sorted(rows, key=repr) for name, rows in tables.items()}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(split=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=3, unique=True).map(sorted),
       chunk_rows=st.sampled_from([1, 3, WHOLE]))
def test_a_delivery_s_update_gives_the_tables_of_a_rewrite(tmp_path_factory, whole, split, chunk_rows):
    """Runs after the first update the tables with the new files' keys: a newer version of a known report, a fix
    that resolves a quarantined row, new reports, new quarantined and malformed rows."""
    root = tmp_path_factory.mktemp("update")
    files = _deliveries()
    for end in [*split, len(files)]:
        result = _ingest_once(_landing(root / "landing", files[:end]), root, chunk_rows, incremental=True)
    assert _as_sets(result) == _as_sets(whole)


def _tamper(home: Path) -> None:
    """Change a valid record that no later file touches, as a rewrite would not leave it."""
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("update valid.case_reports set route = 'tampered' where report_id = 'R005'")


def _route_of_r005(home: Path) -> str:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        return con.execute("select route from valid.case_reports where report_id = 'R005'").fetchone()[0]


def test_an_update_derives_again_only_the_keys_of_the_new_files(tmp_path, whole):
    files = _deliveries()
    _ingest_once(_landing(tmp_path / "landing", files[:3]), tmp_path, WHOLE, incremental=True)
    _tamper(tmp_path)
    updated = _ingest_once(_landing(tmp_path / "landing", files), tmp_path, WHOLE, incremental=True)
    assert _route_of_r005(tmp_path) == "tampered"  # its rows were not read again
    assert {k: v for k, v in _as_sets(updated).items() if k != "valid.case_reports"} == \
        {k: v for k, v in _as_sets(whole).items() if k != "valid.case_reports"}
    assert _as_sets(_ingest_once(tmp_path / "landing", tmp_path, WHOLE)) == _as_sets(whole)  # a full run rewrites


@pytest.mark.parametrize("change", ["no record of the staged files", "new agencies", "a staged file gone"])
def test_an_update_rewrites_tables_it_cannot_trust(tmp_path, change):
    """Tables written before the platform recorded their staged files, under other agencies (the staging store was
    checked again), or from a file no longer staged (withdrawn from the archive) are derived again whole."""
    files = _deliveries()
    delivered = files
    _ingest_once(_landing(tmp_path / "landing", files[:3]), tmp_path, WHOLE, incremental=True)
    _tamper(tmp_path)
    agencies = AGENCY_IDS
    if change == "no record of the staged files":
        with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
            con.execute("drop table meta.staged_files")
    elif change == "new agencies":
        agencies = AGENCY_IDS | {"999999"}
    else:
        delivered = files[1:]
        (tmp_path / "landing" / "case_reports" / files[0][0]).unlink()
        for kept in (tmp_path / "archive" / "case_reports").glob(f"{files[0][0]}.*"):
            kept.unlink()
    updated = _ingest_once(_landing(tmp_path / "landing", delivered), tmp_path, WHOLE, agencies, incremental=True)
    assert _route_of_r005(tmp_path) != "tampered"
    with duckdb.connect() as con:  # what one full run in a fresh warehouse gives
        ingest_feed(con, contract("case_reports"), tmp_path / "landing", agencies,
                    archive=Archive(tmp_path / "archive"))
        assert _as_sets(updated) == _as_sets(_tables(con))


def test_a_second_run_reads_no_file_again(tmp_path, whole, monkeypatch):
    landing = _landing(tmp_path / "landing", _deliveries())
    _ingest_once(landing, tmp_path, WHOLE)
    monkeypatch.setattr(feed_module, "_read_file", lambda *_: pytest.fail("a staged file was read again"))
    assert _ingest_once(landing, tmp_path, WHOLE) == whole


def test_a_run_killed_midway_stages_whole_files_only(tmp_path, whole, monkeypatch):
    landing = _landing(tmp_path / "landing", _deliveries())
    real = feed_module.check_rows
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a killed run would stop
        return real(*args)

    monkeypatch.setattr(feed_module, "check_rows", failing)
    with pytest.raises(KeyboardInterrupt):
        _ingest_once(landing, tmp_path, 4, batch_bytes=1, commit_rows=1)
    with duckdb.connect(str(tmp_path / "staging.duckdb")) as staging:
        files = {f for (f,) in staging.execute("select file from files").fetchall()}
        staged_rows = {f for (f,) in staging.execute("select distinct _file from rows").fetchall()}
    assert staged_rows <= files and len(files) < len(_deliveries())  # rows only of whole, recorded files
    monkeypatch.setattr(feed_module, "check_rows", real)
    assert _ingest_once(landing, tmp_path, 4) == whole


def test_new_agencies_recheck_every_staged_file(tmp_path):
    """Whether an agency ID is known is part of a row's validity: the staging store is rebuilt when it changes."""
    landing = _landing(tmp_path / "landing", _deliveries())
    known = _ingest_once(landing, tmp_path, WHOLE)
    assert any(r[4] == "invalid_agency_id" for r in known["quarantine.rows"])
    newly = _ingest_once(landing, tmp_path, WHOLE, agencies=AGENCY_IDS | {"999999"})
    assert not any(r[4] == "invalid_agency_id" for r in newly["quarantine.rows"])
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        assert con.execute("select count(*) from valid.case_reports where agency_id = '999999'").fetchone() == (1,)


def test_a_file_changed_without_an_archive_is_read_anew(tmp_path):
    landing = _landing(tmp_path / "landing", _deliveries()[:1])
    with duckdb.connect() as con:
        ingest_feed(con, contract("case_reports"), landing, AGENCY_IDS, tmp_path / "staging.duckdb")
        (landing / "case_reports" / _deliveries()[0][0]).write_bytes(csv_bytes([report_row(report_id="R999")]))
        ingest_feed(con, contract("case_reports"), landing, AGENCY_IDS, tmp_path / "staging.duckdb")
        assert con.execute("select report_id from valid.case_reports").fetchall() == [("R999",)]


def test_the_contract_suite_in_batches_finds_what_it_finds_on_the_whole_table(tmp_path, whole):
    landing = _landing(tmp_path / "landing", _deliveries())
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest_feed(con, contract("case_reports"), landing, AGENCY_IDS)
        con.execute("insert into valid.case_reports select * from valid.case_reports limit 1")  # a duplicate key
        con.execute("update valid.case_reports set route = 'carrier pigeon' where report_id = 'R003'")
        frame = con.execute("select * from valid.case_reports").df()
        at_once = validate_frame(contract("case_reports"), frame)
        batched = validate_table(con, contract("case_reports"), "valid.case_reports", batch_rows=3)
    assert batched.statistics["batches"] > 1
    assert not batched.success and batched.failed_pairs() == at_once.failed_pairs()
    counts = {(f.expectation_type, f.columns): f.unexpected_count for f in at_once.failed}
    assert {(f.expectation_type, f.columns): f.unexpected_count for f in batched.failed} == counts


def test_the_contract_suite_on_the_changed_rows_finds_what_it_finds_on_the_whole_table(tmp_path):
    landing = _landing(tmp_path / "landing", _deliveries())
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest_feed(con, contract("case_reports"), landing, AGENCY_IDS)
        con.execute("create table passed as select * from valid.case_reports")  # the published state's table
        unchanged = validate_table(con, contract("case_reports"), "valid.case_reports", passed="passed")
        con.execute("insert into valid.case_reports select * from valid.case_reports limit 1")  # a duplicate key
        con.execute("update valid.case_reports set route = 'carrier pigeon' where report_id = 'R003'")
        at_once = validate_frame(contract("case_reports"), con.execute("select * from valid.case_reports").df())
        changed = validate_table(con, contract("case_reports"), "valid.case_reports", batch_rows=1, passed="passed")
        rows = con.execute("select count(*) from valid.case_reports").fetchone()[0]
    assert unchanged.success and unchanged.statistics["rows"] == 0
    assert unchanged.statistics["rows_in_table"] == rows - 1
    assert 3 <= changed.statistics["rows"] < rows  # the duplicated key's two rows and R003's
    assert changed.statistics["batches"] > 1
    assert not changed.success and changed.failed_pairs() == at_once.failed_pairs()
    counts = {(f.expectation_type, f.columns): f.unexpected_count for f in at_once.failed}
    assert {(f.expectation_type, f.columns): f.unexpected_count for f in changed.failed} == counts


def test_a_delivery_compares_with_the_published_table_only_when_it_has_the_same_columns(tmp_path):
    from orchestration.defs.ingestion.assets import passed_table

    published = tmp_path / "published.duckdb"
    with duckdb.connect(str(published)) as con:
        con.execute("create schema valid; create table valid.alerts (alert_id varchar, issued date)")
        con.execute("create table valid.checkups (checkup_id varchar)")
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        con.execute("create schema valid; create table valid.alerts (alert_id varchar, issued date)")
        con.execute("create table valid.checkups (checkup_id varchar, height double)")  # the contract changed
        con.execute("create table valid.immunizations (vaccine varchar)")  # a new feed
        passed = {}
        for name, path, feed in (("alerts", published, "alerts"), ("checkups", published, "checkups"),
                                 ("new feed", published, "immunizations"),
                                 ("first run", tmp_path / "never_published.duckdb", "alerts")):
            with passed_table(con, path, feed) as passed[name]:
                if passed[name]:
                    assert con.execute(f"select count(*) from {passed[name]}").fetchone() == (0,)
        attached = con.execute("select database_name from duckdb_databases() where not internal").fetchall()
    assert passed == {"alerts": "published.valid.alerts", "checkups": None, "new feed": None, "first run": None}
    assert attached == [("build",)]
