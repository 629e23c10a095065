"""Writing a loaded feed into the DuckDB warehouse: raw, valid, version history and quarantine."""
from __future__ import annotations

import json

import duckdb
import pandas as pd

from kodomo.contracts import Contract
from kodomo.ingest.feed import FeedLoad

SCHEMAS = ("raw", "valid", "quarantine", "meta")
_DUCKDB_TYPES = {"date": "DATE", "datetime": "TIMESTAMP", "integer": "INTEGER", "decimal": "DOUBLE"}
_META_TYPES = {"_file": "VARCHAR", "_line": "INTEGER", "_delivery_date": "DATE", "_seq": "INTEGER"}

QUARANTINE_ROWS_DDL = """
create table if not exists quarantine.rows (
    feed varchar not null, file varchar not null, line integer not null, "column" varchar,
    rule varchar not null, violations varchar, raw_text varchar, distinct_key varchar,
    status varchar not null, resolved_by varchar
)"""
QUARANTINE_FILES_DDL = """
create table if not exists quarantine.files (
    feed varchar not null, file varchar not null, rule varchar not null, detail varchar
)"""
FILES_DDL = """
create table if not exists meta.files (
    feed varchar not null, file varchar not null, status varchar not null, rule varchar, detail varchar,
    encoding varchar, line_ending varchar, "rows" integer, extra_columns varchar, sha256 varchar
)"""
REPORT_DDL = "create table if not exists meta.feed_report (feed varchar primary key, report json not null)"


def duckdb_type(column_type: str) -> str:
    return _DUCKDB_TYPES.get(column_type, "VARCHAR")


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for ddl in (QUARANTINE_ROWS_DDL, QUARANTINE_FILES_DDL, FILES_DDL, REPORT_DDL):
        con.execute(ddl)


def _typed_select(contract: Contract) -> str:
    cols = [f'cast("{c.name}" as {duckdb_type(c.type)}) as "{c.name}"' for c in contract.columns]
    cols += [f'cast("{m}" as {t}) as "{m}"' for m, t in _META_TYPES.items()]
    return ", ".join(cols)


def _replace_table(con, table: str, select: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    try:
        con.execute(f"create or replace table {table} as select {select} from _frame")
    finally:
        con.unregister("_frame")


def _replace_feed_rows(con, table: str, feed: str, frame: pd.DataFrame, columns: list[str]) -> None:
    con.execute(f"delete from {table} where feed = ?", [feed])
    if frame.empty:
        return
    con.register("_frame", frame[columns])
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"insert into {table} ({quoted}) select {quoted} from _frame")
    finally:
        con.unregister("_frame")


def write_feed(con: duckdb.DuckDBPyConnection, contract: Contract, load: FeedLoad) -> None:
    """Replace everything this feed wrote before, in one transaction: loading twice changes nothing."""
    prepare(con)
    con.execute("begin")
    try:
        raw_cols = ", ".join(f'"{c}"' for c in [*contract.column_names, "_extra"])
        meta = ", ".join(f'cast("{m}" as {t}) as "{m}"' for m, t in _META_TYPES.items())
        _replace_table(con, f"raw.{contract.feed}", f"{raw_cols}, {meta}", load.raw)
        _replace_table(con, f"valid.{contract.feed}", _typed_select(contract), load.valid)
        _replace_table(con, f"valid.{contract.feed}_versions", _typed_select(contract), load.versions)
        _replace_feed_rows(con, "quarantine.rows", contract.feed, load.quarantine,
                           ["feed", "file", "line", "column", "rule", "violations", "raw_text", "distinct_key",
                            "status", "resolved_by"])
        files = load.files
        rejected = files[files["status"] == "quarantined"] if not files.empty else files
        _replace_feed_rows(con, "quarantine.files", contract.feed, rejected, ["feed", "file", "rule", "detail"])
        _replace_feed_rows(con, "meta.files", contract.feed, files,
                           ["feed", "file", "status", "rule", "detail", "encoding", "line_ending", "rows",
                            "extra_columns", "sha256"])
        con.execute("insert or replace into meta.feed_report values (?, ?)", [contract.feed, json.dumps(load.report)])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def read_report(con: duckdb.DuckDBPyConnection) -> dict:
    rows = con.execute("select feed, report from meta.feed_report").fetchall()
    return {feed: json.loads(report) for feed, report in rows}

