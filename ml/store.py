"""The ``ml`` schema of the warehouse: labels, features and intake scores as tables."""
from __future__ import annotations

import duckdb
import pandas as pd

SCHEMA = "ml"
LABELS = "ml.labels"
FEATURES = "ml.features"
FEATURES_WITHIN_AGENCY = "ml.features_within_agency"
INTAKE_SCORES = "ml.intake_scores"


def write_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.register("_ml_frame", frame)
    try:
        con.execute(f"create or replace table {table} as select * from _ml_frame")
    finally:
        con.unregister("_ml_frame")


def read_table(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    return con.execute(f"select * from {table}").df()
