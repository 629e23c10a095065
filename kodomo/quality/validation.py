"""Run a contract's suite against a DataFrame in memory, or a warehouse table in batches, and summarise the outcome."""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.execution_engine import pandas_execution_engine
from great_expectations.expectations.row_conditions import deserialize_row_condition

from kodomo.contracts import Contract
from kodomo.quality.expectations import build_suite

SAMPLE_SIZE = 5
_CHANGED_KEYS = "_changed_keys"  # a temporary table of validate_table's
#: Rows validated at once from a warehouse table (pandas in GX): about 1 GB at the widest feed.
BATCH_ROWS = 1_000_000
# BASIC gives the unexpected count and a few unexpected values. SUMMARY adds row labels and
# value counts but makes a 1M-row validation about 45% slower, even when nothing fails.
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE}


@contextmanager
def _unfingerprinted() -> Iterator[None]:
    """GX hashes every cell of a pandas batch whose shallow size is under its module's HASH_THRESHOLD (1 GB),
    only to label the batch in the results: on a 1M-row table that is 50-75% of the validation time (more
    with object columns). GX has no option for it, so the threshold is 0 while our batches load, and GX's
    own value again after (tests/test_quality.py checks it)."""
    threshold = pandas_execution_engine.HASH_THRESHOLD
    pandas_execution_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_execution_engine.HASH_THRESHOLD = threshold


@dataclass(frozen=True)
class FailedExpectation:
    expectation_type: str
    columns: tuple[str, ...]
    unexpected_count: int | None
    sample: tuple = ()
    condition: str | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        """JSON-friendly form (NaN becomes None), for Dagster metadata and logs."""
        return {
            "expectation_type": self.expectation_type,
            "columns": list(self.columns),
            "unexpected_count": self.unexpected_count,
            "sample": [_json_value(v) for v in self.sample],
            "condition": self.condition,
            "error": self.error,
        }


@dataclass(frozen=True)
class QualityResult:
    suite_name: str
    success: bool
    failed: tuple[FailedExpectation, ...] = ()
    statistics: dict = field(default_factory=dict)

    def failed_pairs(self) -> set[tuple[str, tuple[str, ...]]]:
        """(expectation type, columns) of every failure: the shortest full account of what broke."""
        return {(f.expectation_type, f.columns) for f in self.failed}

    def as_dict(self) -> dict:
        return {
            "suite_name": self.suite_name,
            "success": self.success,
            "statistics": self.statistics,
            "failed": [f.as_dict() for f in self.failed],
        }


def validate_frame(contract: Contract, df: pd.DataFrame) -> QualityResult:
    """Validate ``df`` (a valid table of ``contract``'s feed) against the generated suite."""
    started = time.perf_counter()
    # One validate call for the whole suite: GX loads (and fingerprints) the batch once per call,
    # which costs about half a second per call on a million rows.
    with _unfingerprinted():
        outcome = _whole_frame_batch(df).validate(build_suite(contract), result_format=_RESULT_FORMAT)
    seconds = time.perf_counter() - started
    return _quality_result(outcome, rows=len(df), seconds=seconds)


def validate_table(con: duckdb.DuckDBPyConnection, contract: Contract, table: str,
                   batch_rows: int = BATCH_ROWS, passed: str | None = None) -> QualityResult:
    """Validate the warehouse table ``table`` in batches of about ``batch_rows``, so memory stays bounded.

    Rows are batched by a hash of the contract's key, so all rows of a key meet in one batch and the key's
    uniqueness is checked as surely as on the whole table; every other expectation is about single rows.

    ``passed`` names a table of the same columns that passed this suite (the published state's): then only the
    rows of changed keys are validated (``_changed_keys``), which finds exactly what the whole table would, as every
    other row passed already. A day's delivery changes a few thousand of a table's millions of rows. The statistics
    say how many rows the table has and how many were validated.
    """
    started = time.perf_counter()
    rows_in_table = con.execute(f"select count(*) from {table}").fetchone()[0]
    source = table
    try:
        if passed is not None:
            source = _changed_keys(con, contract, table, passed)
        rows = con.execute(f"select count(*) from {source}").fetchone()[0] if source != table else rows_in_table
        batches = max(1, math.ceil(rows / batch_rows))
        key = ", ".join(f'"{k}"' for k in contract.key)
        results = [validate_frame(contract, con.execute(
            f"select * from {source} where hash({key}) % {batches} = {i}" if batches > 1 else f"select * from {source}"
        ).df()) for i in range(batches)]
    finally:
        con.execute(f"drop table if exists {_CHANGED_KEYS}")
    return _merged(results, rows, time.perf_counter() - started, rows_in_table)


def _changed_keys(con: duckdb.DuckDBPyConnection, contract: Contract, table: str, passed: str) -> str:
    """A subquery: every row of ``table`` whose key has a row that ``passed`` does not hold, or more than one row.

    The keys are written once to a temporary table (the comparison reads both tables whole). ``except`` compares
    distinct rows, so a row there once and here twice is found by its key's count (``except all`` finds it too, at
    six times the cost on national's immunizations).
    """
    key = ", ".join(f'"{k}"' for k in contract.key)
    con.execute(f"create or replace temp table {_CHANGED_KEYS} as "
                f"select {key} from (select * from {table} except select * from {passed}) "
                f"union select {key} from {table} group by {key} having count(*) > 1")
    same_key = " and ".join(f'rows."{k}" is not distinct from changed."{k}"' for k in contract.key)
    return f"(select rows.* from {table} as rows semi join {_CHANGED_KEYS} as changed on {same_key})"


def _merged(results: list[QualityResult], rows: int, seconds: float, rows_in_table: int) -> QualityResult:
    """One result for the batches of one table: an expectation fails if it fails in any batch."""
    failed: dict[tuple, FailedExpectation] = {}
    for f in (f for r in results for f in r.failed):
        key = (f.expectation_type, f.columns, f.condition)
        seen = failed.get(key)
        failed[key] = f if seen is None else FailedExpectation(
            f.expectation_type, f.columns,
            None if seen.unexpected_count is None or f.unexpected_count is None
            else seen.unexpected_count + f.unexpected_count,
            (seen.sample + f.sample)[:SAMPLE_SIZE], f.condition, seen.error or f.error)
    evaluated = results[0].statistics["evaluated_expectations"]
    statistics = {"evaluated_expectations": evaluated, "successful_expectations": evaluated - len(failed),
                  "unsuccessful_expectations": len(failed),
                  "success_percent": 100.0 * (evaluated - len(failed)) / evaluated if evaluated else None,
                  "rows": rows, "rows_in_table": rows_in_table, "seconds": round(seconds, 3),
                  "batches": len(results)}
    return QualityResult(suite_name=results[0].suite_name, success=not failed, failed=tuple(failed.values()),
                         statistics=statistics)


def _ephemeral_context():
    # An explicit config: the default ephemeral one creates a temporary docs directory and
    # draws progress bars on stderr.
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _whole_frame_batch(df: pd.DataFrame):
    # A fresh context per call costs a few milliseconds and keeps concurrent checks apart.
    asset = _ephemeral_context().data_sources.add_pandas("kodomo").add_dataframe_asset("valid_table")
    definition = asset.add_batch_definition_whole_dataframe("whole_table")
    with _unfingerprinted():
        return definition.get_batch(batch_parameters={"dataframe": df})


def _quality_result(outcome: ExpectationSuiteValidationResult, rows: int, seconds: float) -> QualityResult:
    failed = tuple(_failed_expectation(r) for r in outcome.results if not r.success)
    statistics = {**outcome.statistics, "rows": rows, "seconds": round(seconds, 3)}
    return QualityResult(
        suite_name=outcome.suite_name, success=bool(outcome.success), failed=failed, statistics=statistics
    )


def _failed_expectation(result: ExpectationValidationResult) -> FailedExpectation:
    config = result.expectation_config
    details = result.result or {}
    exception = result.exception_info or {}
    condition = config.kwargs.get("row_condition")
    return FailedExpectation(
        expectation_type=config.type,
        columns=_columns(config.kwargs),
        unexpected_count=details.get("unexpected_count"),
        sample=tuple(details.get("partial_unexpected_list") or ()),
        # The result carries the condition as a dict; its Condition object reads "status == attended".
        condition=None if condition is None else repr(deserialize_row_condition(condition)),
        error=_exception_message(exception),
    )


def _columns(kwargs: dict) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    return tuple(kwargs.get("column_list", ()))


def _exception_message(exception_info: dict) -> str | None:
    # A plain failure reports {"raised_exception": False, ...}; a metric that raised (a missing
    # column, say) reports {metric id: {"raised_exception": True, "exception_message": ...}}.
    infos = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    messages = {i.get("exception_message") for i in infos if i.get("raised_exception")} - {None}
    return "; ".join(sorted(messages)) or None


def _json_value(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
