"""A generated `small` world through `kodomo run`: the ingestion report equals the generator's truth."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil

import duckdb
import pandas as pd
import pytest

from kodomo.cli import main
from kodomo.contracts import FEEDS

SPEC_FIELDS = {"files_read", "files_quarantined", "rows_read", "rows_valid", "rows_quarantined", "records",
               "quarantine_by_rule"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    landing = root / "landing"
    assert main(["generate", "--out", str(landing), "--scale", "small", "--seed", "7"]) == 0
    return landing, root / "landing-truth"


@pytest.fixture(scope="module")
def run(world, tmp_path_factory):
    landing, truth = world
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["run", "--landing", str(landing)]) == 0
    (home.parent / f"{home.name}.stdout").write_text(out.getvalue(), encoding="utf-8")
    return home


def test_run_prints_a_short_summary_and_logs_the_steps_output(run):
    printed = (run.parent / f"{run.name}.stdout").read_text(encoding="utf-8").splitlines()
    assert len(printed) == 1 and printed[0].startswith("kodomo run: 7 feeds, ")
    # dbt's closing summary (the staging's warn-level relationship test may warn on a synthetic world)
    assert re.search(r"Done\. PASS=\d+ WARN=\d+ ERROR=0 ", (run / "reports" / "run.log").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report(run):
    return json.loads((run / "reports" / "ingest.json").read_text(encoding="utf-8"))


def truth_json(world, name):
    return json.loads((world[1] / name).read_text(encoding="utf-8"))


def test_report_ingest_json_has_exactly_the_spec_fields(run, capsys, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(run))
    assert main(["report", "ingest", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == set(FEEDS)
    for counts in printed.values():
        assert set(counts) == SPEC_FIELDS


@pytest.mark.parametrize("feed", FEEDS)
def test_counts_equal_the_truth(world, report, feed):
    expected = truth_json(world, "expected_ingest.json")[feed]
    got = report[feed]
    for field in ("files_read", "files_quarantined", "rows_quarantined", "records", "quarantine_by_rule"):
        assert got[field] == expected[field], f"{feed}.{field}"


def test_every_quarantined_row_has_the_injected_rule(world, run):
    truth = pd.read_csv(world[1] / "quarantined_rows.csv", dtype=str)
    with duckdb.connect(str(run / "warehouse.duckdb"), read_only=True) as con:
        got = con.execute("select feed, file, cast(line as varchar) as line, rule from quarantine.rows").df()
    key = ["feed", "file", "line"]
    merged = truth.merge(got, on=key, how="outer", suffixes=("_truth", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(10).to_string()
    wrong = merged[merged["rule_truth"] != merged["rule_got"]]
    assert wrong.empty, wrong.head(10).to_string()


def test_every_quarantined_file_has_the_injected_rule(world, run):
    truth = pd.read_csv(world[1] / "quarantined_files.csv", dtype=str)
    with duckdb.connect(str(run / "warehouse.duckdb"), read_only=True) as con:
        got = con.execute("select feed, file, rule from quarantine.files order by all").df()
    assert sorted(map(tuple, truth[["feed", "file", "rule"]].values)) == sorted(map(tuple, got.values))
    assert len(got) >= 1


def test_running_the_same_landing_again_changes_nothing(world, run, monkeypatch):
    landing, _ = world
    tables = ("valid.case_reports", "valid.immunizations", "quarantine.rows", "quarantine.files")

    def snapshot():
        with duckdb.connect(str(run / "warehouse.duckdb"), read_only=True) as con:
            return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}

    before = snapshot()
    monkeypatch.setenv("KODOMO_HOME", str(run))
    assert main(["run", "--landing", str(landing)]) == 0
    assert snapshot() == before


def test_names_stay_out_of_the_quarantine_report(run):
    printed = (run / "reports" / "ingest.json").read_text(encoding="utf-8")
    assert "髙" not in printed and "child_name" not in printed


def test_unknown_columns_are_named_per_file_and_never_stored_as_columns(run):
    with duckdb.connect(str(run / "warehouse.duckdb"), read_only=True) as con:
        named = con.execute("select distinct unnest(string_split(extra_columns, ',')) from meta.files "
                            "where extra_columns is not null").fetchall()
        raw_columns = con.execute("select distinct column_name from information_schema.columns "
                                  "where table_schema = 'raw'").fetchall()
    assert ("担当者",) in named or ("system_version",) in named
    assert not {c for (c,) in raw_columns} & {"_extra", "担当者", "system_version"}


def test_a_landing_with_only_agencies_csv_after_a_full_run_changes_no_row(world, run, monkeypatch, tmp_path):
    """The landing is a drop zone (source-feeds.md §1 v1.1): files gone from it stay loaded."""
    landing, _ = world
    tables = [f"valid.{feed}" for feed in FEEDS] + ["quarantine.rows", "quarantine.files", "linkage.person_links"]

    def snapshot():
        with duckdb.connect(str(run / "warehouse.duckdb"), read_only=True) as con:
            return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}

    before = snapshot()
    only_agencies = tmp_path / "landing"
    only_agencies.mkdir()
    shutil.copy(landing / "agencies.csv", only_agencies / "agencies.csv")
    monkeypatch.setenv("KODOMO_HOME", str(run))
    assert main(["run", "--landing", str(only_agencies)]) == 0
    assert snapshot() == before
    assert all(before[f"valid.{feed}"] for feed in FEEDS)
