"""Memory handed back between a run's steps: the warehouse's cache and the heap freed since ingestion."""
from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from kodomo.memory import IDLE_LIMIT, cache_released, release_freed_memory

LIMIT = "1GB"
IDLE_BYTES = int(IDLE_LIMIT.removesuffix("MB")) * 10**6


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def _cached_bytes(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select sum(memory_usage_bytes) from duckdb_memory()").fetchone()[0]


def _memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_a_warehouse_file_gives_its_cache_back_while_the_body_runs_and_its_limit_after(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(path) as con:
        con.execute("create table t as select range as a, md5(range::varchar) as b from range(10000000)")
    con = duckdb.connect(path, config={"memory_limit": LIMIT})
    opened_limit = _memory_limit(con)
    con.execute("select max(a), max(b) from t").fetchall()
    assert _cached_bytes(con) > 100 * 2**20  # the scan left its blocks cached

    with cache_released(con, LIMIT):
        assert _cached_bytes(con) <= IDLE_BYTES
        assert con.execute("select count(*) from t").fetchone()[0] == 10_000_000  # still queryable
    assert _memory_limit(con) == opened_limit
    assert con.execute("select count(distinct b) from t").fetchone()[0] == 10_000_000
    con.close()


def test_an_in_memory_database_keeps_its_blocks_and_limit():
    con = duckdb.connect(config={"memory_limit": LIMIT})
    con.execute("create table t as select range as a, md5(range::varchar) as b from range(1000000)")
    before = _cached_bytes(con)
    with cache_released(con, LIMIT):
        assert _memory_limit(con) == _memory_limit(duckdb.connect(config={"memory_limit": LIMIT}))
        assert _cached_bytes(con) == before  # nowhere else to keep them
    con.close()


def test_the_memory_arrow_freed_goes_back_to_the_system():
    # pandas keeps its strings in Arrow, whose allocator holds on to what a freed frame used
    columns = [pa.array(np.arange(i, i + 200_000)).cast(pa.string()) for i in range(100)]
    del columns
    before = _rss_mib()
    release_freed_memory()
    assert before - _rss_mib() > 100  # of the ~160 MiB the columns took
