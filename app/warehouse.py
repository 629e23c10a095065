"""What the app reads from the warehouse: open intakes with their scores. Read-only, never a name.

Each page run opens its own read-only DuckDB connection and closes it when done, so the app never holds the
file while the pipeline writes it, and no query here can change a table.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ml.store import FEATURES, INTAKE_SCORES


@contextmanager
def read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def has_scores(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute("select count(*) from duckdb_tables() where schema_name = 'ml' and table_name = ?",
                        [INTAKE_SCORES.split(".")[1]]).fetchone()[0]
    return bool(found) and con.execute(f"select count(*) from {INTAKE_SCORES}").fetchone()[0] > 0


def agencies_with_open_intakes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """agency_id and the agency's name, for the agencies that have scored open intakes."""
    return con.execute(f"""
        select distinct s.agency_id, coalesce(a.name, '') as name
        from {INTAKE_SCORES} s left join valid.agencies a using (agency_id)
        order by s.agency_id""").df()


def open_intakes(con: duckdb.DuckDBPyConnection, agency_id: str) -> pd.DataFrame:
    """The agency's scored open intakes, newest first: report_id, received_at, age_years (no score: not a queue)."""
    return con.execute(f"""
        select s.report_id, f.received_at, f.age_years
        from {INTAKE_SCORES} s join {FEATURES} f using (agency_id, report_id)
        where s.agency_id = ?
        order by f.received_at desc, s.report_id""", [agency_id]).df()


@dataclass(frozen=True)
class Score:
    risk_score: float
    top_reasons: list[dict]
    model_version: str


def intake(con: duckdb.DuckDBPyConnection, agency_id: str, report_id: str) -> tuple[pd.DataFrame, Score]:
    """One intake's features (a one-row frame, as ``ml.features`` holds it) and its stored score."""
    features = con.execute(f"select * from {FEATURES} where agency_id = ? and report_id = ?",
                           [agency_id, report_id]).df()
    risk_score, reasons, version = con.execute(
        f"select risk_score, top_reasons, model_version from {INTAKE_SCORES} where agency_id = ? and report_id = ?",
        [agency_id, report_id]).fetchone()
    return features, Score(float(risk_score), json.loads(reasons), str(version))
