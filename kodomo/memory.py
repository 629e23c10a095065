"""Giving memory back between the steps of one run, which all share one process.

A large run's peak is where the steps' footprints meet: the linkage's Splink DuckDB (capped at the warehouse's
limit), or the training's matrices, beside the warehouse connection's own cache and what ingestion freed but the
allocators kept. Neither is needed while Splink works or the model trains, so it is handed back first; nothing here
changes a result.
"""
from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

#: The warehouse's memory limit while its cache is released: low enough to evict it, high enough to run a query.
IDLE_LIMIT = "64MB"


def release_freed_memory() -> None:
    """Return freed heap to the system: glibc and Arrow's allocator keep freed pages for reuse, so a process that
    has held a large feed in pandas stays that large after the frame is gone."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its allocator gives back on its own terms
        pass


@contextmanager
def cache_released(con: duckdb.DuckDBPyConnection, memory_limit: str | None) -> Iterator[None]:
    """Evict the DuckDB file's cached blocks (lowering its limit makes DuckDB evict them: they are on disk) while
    the body runs, then restore ``memory_limit``, the limit the connection was opened with. An in-memory database
    (its blocks live nowhere else) or a connection of unknown limit is left as it is."""
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    if memory_limit is None or path is None:
        yield
        return
    con.execute(f"set memory_limit = '{IDLE_LIMIT}'")
    try:
        yield
    finally:
        con.execute(f"set memory_limit = '{memory_limit}'")
