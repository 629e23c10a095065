"""Writing a loaded feed into the DuckDB warehouse: raw, valid, version history and quarantine."""
from __future__ import annotations

import json

import duckdb
import pandas as pd

from kodomo.contracts import LINEAGE_COLUMNS, Contract
from kodomo.ingest.feed import FILE_COLUMNS, FeedLoad
from kodomo.tables import insert_rows, replace_table

SCHEMAS = ("raw", "valid", "quarantine", "meta")
_DUCKDB_TYPES = {"date": "DATE", "datetime": "TIMESTAMP", "integer": "INTEGER", "decimal": "DOUBLE"}
_QUARANTINE_COLUMNS = ["feed", "file", "line", "column", "rule", "violations", "raw_text", "distinct_key", "status",
                       "resolved_by"]

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


def _lineage_select() -> list[str]:
    return [f'cast("{c.name}" as {c.duckdb_type}) as "{c.name}"' for c in LINEAGE_COLUMNS]


def _typed_select(contract: Contract) -> str:
    cols = [f'cast("{c.name}" as {duckdb_type(c.type)}) as "{c.name}"' for c in contract.columns]
    return ", ".join(cols + _lineage_select())


def _raw_select(contract: Contract) -> str:
    """The delivered text of the contract's columns and the lineage: unknown columns are never stored."""
    return ", ".join([f'"{c}"' for c in contract.column_names] + _lineage_select())


def _replace_feed_rows(con, table: str, feed: str, frame: pd.DataFrame, columns: list[str]) -> None:
    con.execute(f"delete from {table} where feed = ?", [feed])
    insert_rows(con, table, frame, columns)


def write_feed(con: duckdb.DuckDBPyConnection, contract: Contract, load: FeedLoad) -> None:
    """Replace everything this feed wrote before, in one transaction: loading twice changes nothing.

    ``load`` holds every file ever delivered (the archive), so replacing loses nothing a landing no longer has.
    """
    prepare(con)
    con.execute("begin")
    try:
        replace_table(con, f"raw.{contract.feed}", load.raw, _raw_select(contract))
        replace_table(con, f"valid.{contract.feed}", load.valid, _typed_select(contract))
        replace_table(con, f"valid.{contract.feed}_versions", load.versions, _typed_select(contract))
        _replace_feed_rows(con, "quarantine.rows", contract.feed, load.quarantine, _QUARANTINE_COLUMNS)
        files = load.files
        _replace_feed_rows(con, "quarantine.files", contract.feed, files[files["status"] == "quarantined"],
                           ["feed", "file", "rule", "detail"])
        _replace_feed_rows(con, "meta.files", contract.feed, files, list(FILE_COLUMNS))
        con.execute("insert or replace into meta.feed_report values (?, ?)", [contract.feed, json.dumps(load.report)])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def read_report(con: duckdb.DuckDBPyConnection) -> dict:
    rows = con.execute("select feed, report from meta.feed_report").fetchall()
    return {feed: json.loads(report) for feed, report in rows}

