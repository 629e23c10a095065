"""The one way the app opens the warehouse: the published file, read-only, for one page run.

The pipeline builds the next state in another file and publishes it by renaming, so a reader never blocks a run
and never sees half of one; a reader that cannot open the file gets ``WarehouseUnavailable``, which the pages
turn into a plain message.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseUnavailable(Exception):
    """The published warehouse cannot be read now (not built yet, or being replaced)."""


@contextmanager
def read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if not path.is_file():
        raise WarehouseUnavailable(f"no published warehouse at {path}")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseUnavailable(str(exc)) from exc
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                            [schema, table]).fetchone()[0])
