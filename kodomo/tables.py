"""Writing a pandas frame into a DuckDB table: the one way the platform does it."""
from __future__ import annotations

import duckdb
import pandas as pd


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, select: str = "*") -> None:
    """``create or replace table <table> as select <select> from frame`` (the schema must exist)."""
    name = f"_frame_{id(frame):x}"
    con.register(name, frame)
    try:
        con.execute(f"create or replace table {table} as select {select} from {name}")
    finally:
        con.unregister(name)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    """Append ``frame[columns]`` to an existing table."""
    if frame.empty:
        return
    name = f"_frame_{id(frame):x}"
    con.register(name, frame[columns])
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"insert into {table} ({quoted}) select {quoted} from {name}")
    finally:
        con.unregister(name)
