"""Fault injection: runs killed in each phase leave the published state whole, and the next run cleans up.

One `small` world and one home. A clean `kodomo run` publishes the reference state (a content hash per
table). Then runs are SIGKILLed in turn during ingestion, dbt, linkage and training, each run starting from
what the previous kill left (so each recovers from it); after every kill the published state is still the
reference, and a last full rerun ends with every table identical to it. A reader process opens the published
warehouse read-only in a loop from the clean run to the end: it never fails, never sees another state, and
the runs beside it never fail on a lock. A chain of kills rather than one rerun per kill keeps the suite to
six pipeline runs (the reruns are the same whichever kill came before: recovery is done before a run builds).

The phase of a run is read from outside, as an operator would see it: the run's progress lines on stderr
(``dbt: building``, ``linkage: linking``), its dbt child process, and MLflow's store (a run ``RUNNING``).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kodomo.settings import get_settings
from orchestration.lifecycle import PUBLISHED_MARKER, finish_or_discard_build, publish, published_files

KODOMO = str(Path(sys.executable).with_name("kodomo"))
PHASE_TIMEOUT = 600
#: Columns that differ between two runs of the same landing by design: which MLflow model version scored an
#: intake (the rerun registers a new one) and when it was scored. Everything else must be identical.
RUN_SPECIFIC = {"ml.intake_scores": {"model_version", "scored_at"}, "ml.model_drift": {"model_version"}}
#: Floating-point columns are compared to this many decimals: DuckDB's parallel sums (Splink's EM) differ in the
#: last bits between any two runs of the same data (a match weight of 2.8348897981081027 or …045).
FLOAT_DIGITS = 9
#: Tables the reader checks on every open: a state other than the reference would show in their counts.
READER_TABLES = ("valid.case_reports", "linkage.person_links", "marts.intake_features", "meta.files")

READER = """
import json, sys, time, duckdb
path, stop, out, expected = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
opens, errors, other_states, slowest = 0, [], [], 0.0
import os
while not os.path.exists(stop):
    started = time.perf_counter()
    try:
        with duckdb.connect(path, read_only=True) as con:
            seen = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in expected}
        opens += 1
        if seen != expected:
            other_states.append(seen)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:300])
    slowest = max(slowest, time.perf_counter() - started)
    time.sleep(0.02)
with open(out, "w") as f:
    json.dump({"opens": opens, "errors": errors, "other_states": other_states, "slowest_s": slowest}, f)
"""


def table_hashes(warehouse: Path) -> dict[str, tuple[int, int]]:
    """(rows, sum of the rows' hashes) of every table and view, run-specific columns left out, floats rounded.

    A sum (not a xor) so that duplicated rows count; DuckDB hashes each row of the chosen columns.
    """
    hashes = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables order by all").fetchall()
        for schema, table in tables:
            name = f"{schema}.{table}"
            columns = con.execute("select column_name, data_type from information_schema.columns where "
                                  "table_schema = ? and table_name = ? order by ordinal_position",
                                  [schema, table]).fetchall()
            row = ", ".join(f'round("{c}", {FLOAT_DIGITS})' if kind in ("DOUBLE", "FLOAT") else f'"{c}"'
                            for c, kind in columns if c not in RUN_SPECIFIC.get(name, ()))
            rows, total = con.execute(f'select count(*), coalesce(sum(hash({row})::hugeint), 0) '
                                      f'from "{schema}"."{table}"').fetchone()
            hashes[name] = (rows, int(total))
    return hashes


class Run:
    """``kodomo run`` in a child process, its stderr collected line by line."""

    def __init__(self, home: Path, landing: Path):
        self.home = home
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.process = subprocess.Popen([KODOMO, "run", "--landing", str(landing)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, env=os.environ | {"KODOMO_HOME": str(home)})
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT
        while not condition():
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"the run ended (exit {self.process.returncode}) before {what}:\n" + "\n".join(self.lines))
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {PHASE_TIMEOUT}s")
            time.sleep(0.05)

    def kill(self) -> float:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._reader.join(5)
        return time.monotonic() - self.started

    def finish(self) -> float:
        assert self.process.wait(PHASE_TIMEOUT) == 0, "\n".join(self.lines)
        self._reader.join(5)
        return time.monotonic() - self.started


def dbt_children(pgid: int) -> list[int]:
    """Live ``dbt build`` processes in the process group ``pgid``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if fields[0] != "Z" and int(fields[2]) == pgid and any(a.endswith(b"/dbt") for a in cmdline) \
                    and b"build" in cmdline:
                found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def mlflow_runs(home: Path, status: str) -> int:
    store = home / "mlflow" / "mlflow.db"
    if not store.is_file():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)) as con:
            return con.execute("select count(*) from runs where status = ?", [status]).fetchone()[0]
    except sqlite3.OperationalError:  # being created or written
        return 0


def kill_during(run: Run, phase: str) -> dict:
    """Wait for ``phase`` of ``run``, SIGKILL the run's process (only it: its children are left to the next run)."""
    observed = {}
    if phase == "ingestion":
        # The first feed is ingested, the others are being: nothing of dbt yet.
        run.wait_for(lambda: run.said(" rows read"), "a feed ingested")
        assert not run.said("dbt: building")
    elif phase == "dbt":
        run.wait_for(lambda: run.said("dbt: building"), "the dbt build")
        run.wait_for(lambda: dbt_children(run.process.pid), "a dbt process")
        observed["dbt"] = dbt_children(run.process.pid)
        time.sleep(1)  # dbt is writing the build's warehouse
    elif phase == "linkage":
        run.wait_for(lambda: run.said("linkage: linking"), "the linkage")
        time.sleep(0.2)  # into Splink's training (which takes seconds even on a small world), not past it
        assert not run.said("dbt: building")  # dbt builds after the linkage
    elif phase == "training":
        run.wait_for(lambda: mlflow_runs(run.home, "RUNNING") > 0, "an MLflow run")
    observed["seconds"] = run.kill()
    return observed


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("world") / "landing"
    subprocess.run([KODOMO, "generate", "--out", str(landing), "--scale", "small", "--seed", "7"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return landing


@pytest.fixture(scope="module")
def scenario(landing, tmp_path_factory) -> dict:
    """The clean run, the four killed runs and the rerun, with what was seen around each."""
    home = tmp_path_factory.mktemp("home")
    warehouse = home / "warehouse.duckdb"
    clean = Run(home, landing)
    seen = {"clean_seconds": clean.finish()}
    reference = table_hashes(warehouse)
    expected = {t: reference[t][0] for t in READER_TABLES}
    stop, out = home.parent / "reader.stop", home.parent / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop), str(out),
                               json.dumps(expected)])
    try:
        for phase in ("ingestion", "dbt", "linkage", "training"):
            run = Run(home, landing)
            observed = kill_during(run, phase)
            observed["published"] = table_hashes(warehouse)
            observed["lock"] = (home / "run.lock").read_text()
            seen[phase] = observed
        rerun = Run(home, landing)
        rerun.wait_for(lambda: rerun.said(" rows read"), "a feed ingested")  # the rerun holds the home
        second = subprocess.run([KODOMO, "run", "--landing", str(landing)], capture_output=True, text=True,
                                env=os.environ | {"KODOMO_HOME": str(home)}, timeout=120)
        seen["second_run"] = (second.returncode, second.stderr)
        seen["rerun_seconds"] = rerun.finish()
        seen["rerun_lines"] = rerun.lines
        seen["after"] = table_hashes(warehouse)
    finally:
        stop.touch()
        reader.wait(60)
    seen["reader"] = json.loads(out.read_text())
    print("timings (s):", {k: round(v, 1) for k, v in seen.items() if k.endswith("_seconds")},
          {phase: round(seen[phase]["seconds"], 1) for phase in ("ingestion", "dbt", "linkage", "training")},
          "reader:", {k: v for k, v in seen["reader"].items() if k in ("opens", "slowest_s")})
    seen["reference"] = reference
    seen["home"] = home
    return seen


@pytest.mark.parametrize("phase", ["ingestion", "dbt", "linkage", "training"])
def test_a_run_killed_leaves_the_published_state_whole(scenario, phase):
    assert scenario[phase]["published"] == scenario["reference"]
    assert json.loads(scenario[phase]["lock"])["pid"] > 0  # the killed run's record, for the next run


def test_the_rerun_after_the_kills_publishes_every_table_as_the_clean_run(scenario):
    after, reference = scenario["after"], scenario["reference"]
    assert set(after) == set(reference)
    assert {t for t in reference if after[t] != reference[t]} == set()
    assert reference["valid.case_reports"][0] > 0 and reference["linkage.person_links"][0] > 0


def test_the_next_run_ends_what_a_killed_run_left(scenario):
    home = scenario["home"]
    assert scenario["dbt"]["dbt"] and not any(alive(pid) for pid in scenario["dbt"]["dbt"])
    assert not (home / "build").exists()
    assert (home / "run.lock").read_text() == ""
    with contextlib.closing(sqlite3.connect(home / "mlflow" / "mlflow.db")) as con:
        statuses = dict(con.execute("select status, count(*) from runs group by status").fetchall())
    assert statuses.get("FAILED", 0) >= 1 and "RUNNING" not in statuses, statuses
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert {r.status for r in runs} <= {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}
        assert sum(r.status == dg.DagsterRunStatus.FAILURE for r in runs) >= 4  # one per kill


def test_a_second_run_refuses_in_one_line(scenario):
    code, stderr = scenario["second_run"]
    assert code == 1
    assert stderr.count("\n") == 1 and stderr.startswith("kodomo run: another kodomo run is using "), stderr


def test_a_reader_beside_the_runs_never_fails_and_sees_only_whole_states(scenario):
    reader = scenario["reader"]
    assert reader["errors"] == [] and reader["other_states"] == []
    assert reader["opens"] > 100
    assert reader["slowest_s"] < 5


# --- publication itself, without a pipeline ------------------------------------------------------------------


def _state(settings, tag: str, where: Path) -> None:
    for path in published_files(settings):
        target = where / path.relative_to(settings.home)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path == settings.warehouse_path:
            with duckdb.connect(str(target)) as con:
                con.execute(f"create table t as select '{tag}' as state")
        else:
            target.write_text(tag)


def _published(settings) -> list[str]:
    seen = []
    for path in published_files(settings):
        if path == settings.warehouse_path:
            with duckdb.connect(str(path), read_only=True) as con:
                seen.append(con.execute("select state from t").fetchone()[0])
        else:
            seen.append(path.read_text() if path.exists() else None)
    return seen


def test_publishing_replaces_every_published_file(tmp_path):
    settings = get_settings().at_home(tmp_path)
    _state(settings, "old", settings.home)
    _state(settings, "new", settings.build_dir)
    publish(settings)
    assert _published(settings) == ["new", "new", "new"]
    assert not settings.build_dir.exists()


def test_a_publication_cut_short_is_finished_by_the_next_run_and_a_build_without_marker_dropped(tmp_path):
    settings = get_settings().at_home(tmp_path)
    _state(settings, "old", settings.home)
    _state(settings, "new", settings.build_dir)
    report = published_files(settings)[0]
    (settings.build_dir / PUBLISHED_MARKER).write_text(json.dumps(
        [str(p.relative_to(settings.home)) for p in published_files(settings)]))
    os.replace(settings.build_dir / report.relative_to(settings.home), report)  # killed after the first rename
    finish_or_discard_build(settings)
    assert _published(settings) == ["new", "new", "new"]

    _state(settings, "unfinished", settings.build_dir)
    finish_or_discard_build(settings)
    assert _published(settings) == ["new", "new", "new"] and not settings.build_dir.exists()


def test_a_model_the_new_state_lacks_is_unpublished(tmp_path):
    settings = get_settings().at_home(tmp_path)
    _state(settings, "old", settings.home)
    _state(settings, "new", settings.build_dir)
    model = published_files(settings)[1]
    (settings.build_dir / model.relative_to(settings.home)).unlink()  # a linkage of exact matches only
    publish(settings)
    assert _published(settings) == ["new", None, "new"]


# --- MLflow's store --------------------------------------------------------------------------------------------


def test_a_half_made_mlflow_store_is_rebuilt_and_one_with_runs_is_refused(tmp_path):
    from ml.registry import EXPERIMENT, connect, ensure_sqlite_store

    settings = get_settings().at_home(tmp_path)
    store = settings.mlflow_dir / "mlflow.db"
    connect(settings)
    with contextlib.closing(sqlite3.connect(store)) as con:  # what a migration killed half-way leaves
        con.execute("create table _alembic_tmp_experiments (experiment_id integer)")
        con.commit()
    (settings.mlflow_dir / "mlflow.db.new-1").write_text("a store whose creation was killed")
    ensure_sqlite_store(store, settings.mlflow_artifacts_uri)
    with contextlib.closing(sqlite3.connect(store)) as con:
        tables = {t for (t,) in con.execute("select name from sqlite_master where type = 'table'")}
    assert "experiments" in tables and not any(t.startswith("_alembic_tmp_") for t in tables)
    assert not (settings.mlflow_dir / "mlflow.db.new-1").exists()

    client = connect(settings.at_home(tmp_path / "other"))
    client.create_run(client.create_experiment(EXPERIMENT))
    other = tmp_path / "other" / "mlflow" / "mlflow.db"
    with contextlib.closing(sqlite3.connect(other)) as con:
        con.execute("create table _alembic_tmp_runs (run_uuid text)")
        con.commit()
    with pytest.raises(RuntimeError, match="half-migrated .* holds runs"):
        ensure_sqlite_store(other, settings.mlflow_artifacts_uri)
    assert other.exists()
