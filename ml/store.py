"""The ``ml`` schema of the warehouse: the labels and the intake scores (the features are dbt's marts)."""
from __future__ import annotations

import duckdb
import pandas as pd

from kodomo.tables import replace_table

SCHEMA = "ml"
LABELS = "ml.labels"
INTAKE_SCORES = "ml.intake_scores"
MODEL_DRIFT = "ml.model_drift"


def write_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    replace_table(con, table, frame)


def read_table(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    return con.execute(f"select * from {table}").df()
