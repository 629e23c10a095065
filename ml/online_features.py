"""The features of intakes that are not in the warehouse yet, by the same SQL as ``marts.intake_features``.

The marts and this module run one dbt macro, ``intake_features``: the marts over every intake of the
warehouse (``int_intakes``), the analysis ``dbt_project/analyses/online_intake_features.sql`` over a temporary
table ``online_intakes``. This module runs that analysis's compiled SQL on the caller's DuckDB connection to
the warehouse (read-only is enough: the intakes go to a temporary table), so one intake costs one query and
no dbt process.

The compiled SQL is produced by ``dbt compile`` into ``dbt_project/target/online/`` where the project is
prepared (``make setup`` and the start of every pipeline run: ``orchestration.defs.conform.project``), and again
only if the project's files changed since (a digest of its macros, models, analyses, seeds and configuration
is kept beside it); then read from there. It names the warehouse's relations by the catalog ``warehouse``, the name DuckDB gives
``warehouse.duckdb`` (``Settings.warehouse_path``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.dbt_sources import DBT_PROJECT_DIR, project_digest
from ml.features import assessment_items

ANALYSIS = "online_intake_features"
INTAKES_TABLE = "online_intakes"
#: The table whose columns (and types) the online intakes take: the marts' own input.
INTAKES_MODEL = "intermediate.int_intakes"
CATALOG = "warehouse"
TARGET_PATH = DBT_PROJECT_DIR / "target" / "online"
COMPILED = TARGET_PATH / "compiled" / "kodomo" / "analyses" / f"{ANALYSIS}.sql"
REQUIRED = ("agency_id", "report_id", "person_key", "received_at")
#: What the compiled SQL is made from: a change to any of these makes it stale.
_PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "analyses", "seeds")
_STAMP = TARGET_PATH / "compiled.inputs.json"
_DBT = Path(sys.executable).with_name("dbt")


def compile_sql() -> Path:
    """Compile the analysis with dbt (against an empty scratch warehouse: compiling reads no table)."""
    with tempfile.TemporaryDirectory(prefix="kodomo-compile-") as scratch:
        result = subprocess.run(
            [os.fspath(_DBT), "compile", "--quiet", "--select", ANALYSIS, "--project-dir", os.fspath(DBT_PROJECT_DIR),
             "--profiles-dir", os.fspath(DBT_PROJECT_DIR), "--target-path", os.fspath(TARGET_PATH)],
            env={**os.environ, "DBT_DUCKDB_PATH": os.fspath(Path(scratch) / f"{CATALOG}.duckdb")},
            capture_output=True, text=True, check=False)
    if result.returncode != 0 or not COMPILED.exists():
        raise RuntimeError(f"dbt compile of {ANALYSIS} failed: {(result.stdout + result.stderr)[-2000:]}")
    return COMPILED


def ensure_compiled() -> Path:
    """The compiled SQL, compiled now unless it was compiled from the project's files as they are."""
    inputs = project_digest(_PROJECT_INPUTS)  # before compiling: a file changed meanwhile compiles again next time
    if not COMPILED.exists() or not _STAMP.exists() or json.loads(_STAMP.read_text(encoding="utf-8")) != inputs:
        compile_sql()
        _STAMP.write_text(json.dumps(inputs), encoding="utf-8")
    return COMPILED


@cache
def features_sql() -> str:
    """The compiled SQL of the analysis, read once per process."""
    return ensure_compiled().read_text(encoding="utf-8")


def _intake_columns(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, str], ...]:
    rows = con.execute("select column_name, data_type from information_schema.columns "
                       "where table_catalog = ? and table_schema = 'intermediate' and table_name = 'int_intakes' "
                       "order by ordinal_position", [CATALOG]).fetchall()
    if not rows:
        raise ValueError(f"{INTAKES_MODEL} is missing from the warehouse: run the pipeline's dbt build first")
    return tuple(rows)


def _typed_select(frame: pd.DataFrame, columns: tuple[tuple[str, str], ...]) -> str:
    items = [c.name for c in assessment_items()]
    parts = []
    for name, data_type in columns:
        if name in frame.columns:
            value = f'"{name}"'
        elif name == "has_assessment":
            value = " or ".join(f'"{i}" is not null' for i in items if i in frame.columns) or "false"
        else:
            value = "null"
        parts.append(f'cast({value} as {data_type}) as "{name}"')
    return ", ".join(parts)


def online_features(con: duckdb.DuckDBPyConnection, intakes: pd.DataFrame) -> pd.DataFrame:
    """The ``marts.intake_features`` rows of ``intakes``, computed now from the warehouse behind ``con``.

    ``intakes`` has a row per intake: ``agency_id``, ``report_id``, ``person_key`` (the linked child) and
    ``received_at``, and as far as known ``birth_date``, ``route``, ``abuse_types`` (codes joined by ';'),
    ``local_child_id`` and the assessment items (missing ones are null); ``has_assessment`` defaults to
    whether any item is given. The history counts what the warehouse knew at each ``received_at``.
    """
    missing = [c for c in REQUIRED if c not in intakes.columns]
    if missing:
        raise ValueError(f"online intakes lack the column(s) {', '.join(missing)}")
    catalog = con.execute("select current_database()").fetchall()[0][0]
    if catalog != CATALOG:
        raise ValueError(f"the warehouse connection's catalog is {catalog!r}; the compiled features SQL reads "
                         f"{CATALOG!r} (open the file named {CATALOG}.duckdb)")
    sql = features_sql()
    frame_name = f"_online_frame_{id(intakes):x}"
    con.register(frame_name, intakes)
    try:
        columns = _intake_columns(con)
        con.execute(f"create or replace temp table {INTAKES_TABLE} as "
                    f"select {_typed_select(intakes, columns)} from {frame_name}")
    finally:
        con.unregister(frame_name)
    try:
        return con.execute(sql).df()
    finally:
        con.execute(f"drop table if exists temp.{INTAKES_TABLE}")
