"""A delivery's run (``kodomo run --incremental``) reads only the new files and trains nothing, and its state is
exactly that of a run that reads every file again with the same models."""
from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import mlflow
import pytest

from kodomo.dbt_sources import DBT_PROJECT_DIR
from kodomo.settings import get_settings
from ml.registry import MODEL_NAME
from orchestration.runner import run_pipeline
from tests.conftest import copy_home

# Columns that say when a run happened, not what it computed.
RUN_TIME_COLUMNS = {"scored_at", "computed_at", "built_at", "published_at", "decided_at", "created_at"}


def _split_last_day(landing: Path, out: Path) -> tuple[Path, list[Path]]:
    """A copy of ``landing`` without its last delivery day, and that day's files (paths relative to the landing)."""
    shutil.copytree(landing, out)
    dated = sorted(out.glob("*/*_????????_*.csv"))
    last = max(p.name.split("_")[1] for p in dated)
    day = [p.relative_to(out) for p in dated if p.name.split("_")[1] == last]
    for rel in day:
        (out / rel).unlink()
    return out, day


def _state(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() "
                             "where schema_name not in ('main') order by 1, 2").fetchall()
        state = {}
        for schema, table in tables:
            columns = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                "order by column_index", [schema, table]).fetchall() if c not in RUN_TIME_COLUMNS]
            quoted = ", ".join(f'"{c}"' for c in columns)
            state[f"{schema}.{table}"] = con.execute(
                f'select {quoted} from "{schema}"."{table}" order by all').fetchall()
        return state


@contextlib.contextmanager
def _progress() -> Iterator[list[str]]:
    """The run's progress lines (what ``kodomo run`` prints)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("kodomo.progress")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _project_target() -> set[str]:
    """What dbt's target folder in the project holds (dagster-dbt once left a folder per dbt command there)."""
    return {p.name for p in (DBT_PROJECT_DIR / "target").iterdir() if p.is_dir()}


def _versions(settings) -> int:
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return len(mlflow.MlflowClient().search_model_versions(f"name = '{MODEL_NAME}'"))


@pytest.fixture(scope="module")
def runs(scored_world, tmp_path_factory) -> dict:
    from ml.registry import CHALLENGER, connect, record_override, version_by_alias

    root = tmp_path_factory.mktemp("incremental")
    project_target = _project_target()
    landing, day = _split_last_day(scored_world["landing"], root / "landing")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(root / "day0"))
        settings = get_settings()
        run_pipeline(settings, landing, step_log=root / "day0.log")  # before the delivery: trained as every full run is
        client = connect(settings)  # a small world's test slice is too noisy for the gates (see scored_world)
        record_override(client, version_by_alias(client, CHALLENGER), "a small world in a test", "test")
        for rel in day:
            shutil.copy2(scored_world["landing"] / rel, landing / rel)
        homes = {}
        for name, forget_staging in (("incremental", False), ("reread", True)):
            home = root / name
            copy_home(root / "day0", home)
            if forget_staging:  # every file is read again, from the archive
                shutil.rmtree(home / "staging")
            mp.setenv("KODOMO_HOME", str(home))
            versions, model = _versions(get_settings()), (home / "linkage" / "model.json").read_text()
            with _progress() as progress:
                run_pipeline(get_settings(), landing, retrain=False, step_log=root / f"{name}.log")
            homes[name] = {"home": home, "state": _state(home / "warehouse.duckdb"), "versions_before": versions,
                           "log": (root / f"{name}.log").read_text(encoding="utf-8"), "progress": progress,
                           "versions_after": _versions(get_settings()), "linkage_model_before": model,
                           "linkage_model_after": (home / "linkage" / "model.json").read_text()}
    return {"day": day, "project_target_before": project_target, "day0_log": (root / "day0.log").read_text(encoding="utf-8"), **homes}


def test_a_delivery_s_run_equals_reading_every_file_again(runs):
    incremental, reread = runs["incremental"]["state"], runs["reread"]["state"]
    assert incremental.keys() == reread.keys()
    assert {"raw.case_reports", "linkage.person_links", "marts.intake_features", "ml.intake_scores"} <= incremental.keys()
    different = [table for table in incremental if incremental[table] != reread[table]]
    assert different == []
    assert incremental["ml.intake_scores"], "the champion scored the open intakes"


def test_the_delivery_is_in_the_published_state(runs):
    files = {r[1] for r in runs["incremental"]["state"]["meta.files"]}
    assert {str(rel) for rel in runs["day"]} <= files


def test_a_delivery_s_run_trains_nothing(runs):
    run = runs["incremental"]
    assert run["versions_after"] == run["versions_before"] > 0
    assert run["linkage_model_after"] == run["linkage_model_before"]


def _dbt_summaries(log: str) -> list[str]:
    """dbt's closing line of each command: "Finished running 1 seed, 6 table models, 34 data tests, ..."."""
    return [line for line in log.splitlines() if line.startswith("Finished running ")]


def test_a_delivery_s_dbt_tests_the_data_not_the_sql_and_parses_only_what_changed(runs):
    full, delivery = _dbt_summaries(runs["day0_log"]), _dbt_summaries(runs["incremental"]["log"])
    assert len(full) == len(delivery) == 1  # one dbt command a run
    assert all("unit tests" in line for line in full)
    assert not any("unit test" in line for line in delivery)
    assert all("data tests" in line for line in delivery)
    # The command reuses the parse made with the run's variables (a whole parse costs seconds).
    assert "Unable to do partial parsing" not in runs["incremental"]["log"]


def test_runs_leave_no_dbt_output_in_the_project(runs):
    assert _project_target() == runs["project_target_before"]


def test_a_delivery_s_run_checks_the_contracts_on_the_rows_it_changed(runs):
    pattern = re.compile(r"(\w+): .*contract suite on (\d+) of (\d+) valid rows")
    matches = [pattern.match(line) for line in runs["incremental"]["progress"]]
    suites = {m[1]: (int(m[2]), int(m[3])) for m in matches if m}
    assert len(suites) == 7  # every feed
    delivered = {rel.parts[0] for rel in runs["day"]}
    assert {feed for feed, (checked, _) in suites.items() if checked} == delivered
    assert all(checked < rows for checked, rows in suites.values() if checked)
