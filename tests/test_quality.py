"""The generated Great Expectations suites accept a valid table and name each way it can break."""
from __future__ import annotations

import json
import socket
from dataclasses import replace

import duckdb
import pandas as pd
import pytest

from kodomo.contracts import FEEDS, LINEAGE_COLUMNS, Column, Contract, contract
from kodomo.parsing.codes import with_check_digit
from kodomo.quality import METADATA_COLUMNS, build_suite, suite_as_json, validate_frame
from kodomo.quality.validation import _whole_frame_batch

ROWS = 40  # more than the longest code list and than any feed's required columns
NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
REGEX = "expect_column_values_to_match_regex"
BETWEEN = "expect_column_values_to_be_between"
EXISTS = "expect_column_to_exist"

# Column types of the valid tables, per contract type (the ingestion's DuckDB schema `valid`).
DUCKDB_TYPES = {
    "id": "VARCHAR", "name": "VARCHAR", "kana": "VARCHAR", "text": "VARCHAR", "code": "VARCHAR",
    "agency_ref": "VARCHAR", "agency_id": "VARCHAR", "municipality_code": "VARCHAR",
    "prefecture_code": "VARCHAR", "code_set": "VARCHAR", "date": "DATE", "datetime": "TIMESTAMP",
    "integer": "INTEGER", "decimal": "DOUBLE",
}
METADATA_TYPES = {c.name: c.duckdb_type for c in LINEAGE_COLUMNS}


# --- a valid table, generated from the contract -------------------------------------------


def cell(column: Column, row: int):
    """A value of ``column`` that its contract accepts; rows cycle through code lists and ranges."""
    kind = column.type
    if kind == "id":
        return f"{column.name}-{row:05d}"  # unique per row, so every key is unique
    if kind == "code":
        return column.codes[row % len(column.codes)]
    if kind == "code_set":
        start = row % len(column.codes)
        return column.separator.join(column.codes[start:] or column.codes)
    if kind in ("integer", "decimal"):
        steps = 3
        value = column.min + (column.max - column.min) * (row % (steps + 1)) / steps
        return int(round(value)) if kind == "integer" else value
    if kind == "date":
        return pd.Timestamp("2021-04-01") + pd.Timedelta(days=row)
    if kind == "datetime":
        return pd.Timestamp("2021-04-01 09:30") + pd.Timedelta(hours=row)
    if kind == "municipality_code":
        return with_check_digit(f"{13101 + row:05d}")
    if kind in ("agency_id", "agency_ref"):
        return with_check_digit(f"{13101 + row:05d}") if row % 2 else f"C13{row % 100:02d}"
    return {"name": "山田 太郎", "kana": "ヤマダタロウ", "text": "特記事項なし, \"引用\"", "prefecture_code": "13"}[kind]


def valid_frame(feed_contract: Contract, rows: int = ROWS) -> pd.DataFrame:
    """Every column filled, so each conditional requirement holds whatever its condition."""
    data = {c.name: [cell(c, r) for r in range(rows)] for c in feed_contract.columns}
    data["_file"] = [f"131016_20240401_{r % 3}.csv" for r in range(rows)]
    data["_line"] = [r + 2 for r in range(rows)]
    # agencies.csv has no delivery date in its name, so its rows have none.
    delivered = pd.Timestamp("2024-04-01") if feed_contract.is_folder else pd.NaT
    data["_delivery_date"] = [delivered] * rows
    data["_seq"] = [1 if feed_contract.is_folder else 0] * rows
    return pd.DataFrame(data)


def with_value(df: pd.DataFrame, column: str, value, row: int = 0) -> pd.DataFrame:
    broken = df.copy()
    values = broken[column].astype(object)  # room for None or a wrong value whatever the dtype
    values.iloc[row] = value
    broken[column] = values
    return broken


def failures(feed_contract: Contract, df: pd.DataFrame) -> set[tuple[str, tuple[str, ...]]]:
    result = validate_frame(feed_contract, df)
    assert result.success is not bool(result.failed)
    return result.failed_pairs()


def assert_each_fails_once(feed_contract: Contract, column: str, bad_values: list, expectation: str) -> None:
    """One bad value per row: the only failure is ``expectation`` on ``column``, once per value."""
    df = valid_frame(feed_contract)
    for row, value in enumerate(bad_values):
        df = with_value(df, column, value, row=row)
    result = validate_frame(feed_contract, df)
    assert result.failed_pairs() == {(expectation, (column,))}
    assert result.failed[0].unexpected_count == len(bad_values)


def columns_where(predicate) -> list[tuple[str, str]]:
    return [(f, c.name) for f in FEEDS for c in contract(f).columns if predicate(c)]


def ids(pairs) -> list[str]:
    return [".".join(map(str, p)) for p in pairs]


CODE_SETS = columns_where(lambda c: c.type == "code_set")
RANGED = columns_where(lambda c: c.min is not None)
RULES = [(f, i) for f in FEEDS for i in range(len(contract(f).rules))]
BAD_FORMATS = {
    "municipality_code": ["13101", "1310160", "１３１０１６", "13101a"],
    "agency_id": ["C131", "c1301", "X1301", "1310１6"],
    "agency_ref": ["C13011", "13101"],
    "prefecture_code": ["1", "130", "１３"],
}
FORMATTED = columns_where(lambda c: c.type in BAD_FORMATS)


# --- a valid table passes -------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
def test_valid_table_passes(feed):
    c = contract(feed)
    result = validate_frame(c, valid_frame(c))
    assert result.success, result.as_dict()
    assert result.statistics["evaluated_expectations"] == len(build_suite(c).expectations)
    assert result.statistics["rows"] == ROWS


@pytest.mark.parametrize("feed", FEEDS)
def test_optional_values_may_be_missing_where_no_rule_requires_them(feed):
    c = contract(feed)
    df = valid_frame(c)
    for column in c.columns:
        if column.required:
            continue
        required_here = pd.Series(False, index=df.index)
        for rule in c.rules:
            if rule.required == column.name:
                required_here |= pd.concat([df[k] == v for k, v in rule.when.items()], axis=1).all(axis=1)
        df[column.name] = df[column.name].astype(object).where(required_here, None)
    assert failures(c, df) == set()


@pytest.mark.parametrize("feed", FEEDS)
def test_valid_table_read_back_from_duckdb_passes(feed):
    """The frame as it comes out of DuckDB schema `valid` (str, datetime64[us], int32 ...)."""
    c = contract(feed)
    typed = {col.name: DUCKDB_TYPES[col.type] for col in c.columns} | METADATA_TYPES
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA valid")
        con.execute(f"CREATE TABLE valid.{feed} ({', '.join(f'{n} {t}' for n, t in typed.items())})")
        frame = valid_frame(c)  # noqa: F841 - DuckDB reads the local by name
        con.execute(f"INSERT INTO valid.{feed} SELECT * FROM frame")
        table = con.table(f"valid.{feed}").df()
    assert failures(c, table) == set()
    required = c.required_columns[-1]
    assert failures(c, with_value(table, required, None, row=3)) == {(NOT_NULL, (required,))}


# --- each way to break it is named -----------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
def test_missing_required_value_fails_not_null(feed):
    # Each row misses a different required value: one validation names every required column.
    c = contract(feed)
    df = valid_frame(c)
    for row, column in enumerate(c.required_columns):
        df = with_value(df, column, None, row=row)
    result = validate_frame(c, df)
    assert result.failed_pairs() == {(NOT_NULL, (column,)) for column in c.required_columns}
    assert {f.unexpected_count for f in result.failed} == {1}


@pytest.mark.parametrize("column", METADATA_COLUMNS)
def test_missing_metadata_value_fails_not_null(column):
    c = contract("immunizations")
    assert failures(c, with_value(valid_frame(c), column, None)) == {(NOT_NULL, (column,))}


def test_agencies_need_no_delivery_date():
    c = contract("agencies")
    df = valid_frame(c)
    assert df["_delivery_date"].isna().all()
    assert failures(c, df) == set()


@pytest.mark.parametrize("feed", FEEDS)
def test_code_outside_its_list_fails_in_set(feed):
    c = contract(feed)
    code_columns = [col for col in c.columns if col.type == "code"]
    df = valid_frame(c)
    for row, column in enumerate(code_columns):
        df = with_value(df, column.name, "not_a_code", row=row)
    assert failures(c, df) == {(IN_SET, (column.name,)) for column in code_columns}


@pytest.mark.parametrize("feed", FEEDS)
def test_upper_case_code_fails_in_set(feed):
    # The valid tables hold lower-cased codes: an upper-case one is a normalisation bug.
    c = contract(feed)
    lettered = [col for col in c.columns if col.type == "code" and col.codes[-1].upper() != col.codes[-1]]
    df = valid_frame(c)
    for row, column in enumerate(lettered):
        df = with_value(df, column.name, column.codes[-1].upper(), row=row)
    assert failures(c, df) == {(IN_SET, (column.name,)) for column in lettered}


@pytest.mark.parametrize(("feed", "column"), CODE_SETS, ids=ids(CODE_SETS))
def test_code_set_accepts_any_combination_of_its_codes(feed, column):
    c = contract(feed)
    codes, sep = c.column(column).codes, c.column(column).separator
    df = valid_frame(c)
    for row, value in enumerate([codes[0], sep.join(codes), sep.join(reversed(codes))]):
        df = with_value(df, column, value, row=row)
    assert failures(c, df) == set()


@pytest.mark.parametrize(("feed", "column"), CODE_SETS, ids=ids(CODE_SETS))
def test_code_set_with_a_bad_element_fails_regex(feed, column):
    c = contract(feed)
    codes, sep = c.column(column).codes, c.column(column).separator
    bad_values = [
        f"{codes[0]}{sep}not_a_code",
        f"{codes[0]}{sep}",
        f"{sep}{codes[0]}",
        f"{codes[0]}{sep}{sep}{codes[1]}",
        f"{codes[0]}, {codes[1]}",
        codes[0].upper(),
        f"{codes[0]}x",
    ]
    assert_each_fails_once(c, column, bad_values, REGEX)


@pytest.mark.parametrize(("feed", "column"), RANGED, ids=ids(RANGED))
def test_number_outside_its_range_fails_between(feed, column):
    c = contract(feed)
    col = c.column(column)
    df = valid_frame(c)
    assert failures(c, with_value(with_value(df, column, col.min, row=0), column, col.max, row=1)) == set()
    assert_each_fails_once(c, column, [col.max + 1, col.min - 1, col.max + 0.01], BETWEEN)


@pytest.mark.parametrize(("feed", "column"), FORMATTED, ids=ids(FORMATTED))
def test_malformed_code_fails_regex(feed, column):
    c = contract(feed)
    assert_each_fails_once(c, column, BAD_FORMATS[c.column(column).type], REGEX)


@pytest.mark.parametrize("feed", FEEDS)
def test_duplicated_key_fails_uniqueness(feed):
    c = contract(feed)
    df = valid_frame(c)
    for name in c.key:
        df = with_value(df, name, df[name].iloc[0], row=1)
    expected = "expect_column_values_to_be_unique" if len(c.key) == 1 else "expect_compound_columns_to_be_unique"
    assert failures(c, df) == {(expected, c.key)}


@pytest.mark.parametrize("feed", [f for f in FEEDS if len(contract(f).key) > 1])
def test_same_values_in_part_of_a_compound_key_pass(feed):
    c = contract(feed)
    df = valid_frame(c)
    assert failures(c, with_value(df, c.key[0], df[c.key[0]].iloc[0], row=1)) == set()


@pytest.mark.parametrize(("feed", "index"), RULES, ids=ids(RULES))
def test_conditional_requirement_fails_only_when_its_condition_holds(feed, index):
    c = contract(feed)
    rule = c.rules[index]
    df = valid_frame(c)
    for name, code in rule.when.items():
        df = with_value(df, name, code)
    broken = with_value(df, rule.required, None)
    result = validate_frame(c, broken)
    assert result.failed_pairs() == {(NOT_NULL, (rule.required,))}
    [failure] = result.failed
    assert failure.unexpected_count == 1
    assert all(name in failure.condition for name in rule.when)

    for name, code in rule.when.items():
        other = next(x for x in c.column(name).codes if x != code)
        assert failures(c, with_value(broken, name, other)) == set()


@pytest.mark.parametrize("feed", FEEDS)
def test_missing_column_fails_existence_without_raising(feed):
    c = contract(feed)
    in_rules = {name for rule in c.rules for name in (rule.required, *rule.when)}
    column = next(name for name in reversed(c.required_columns) if name not in in_rules)
    result = validate_frame(c, valid_frame(c).drop(columns=column))
    assert not result.success
    assert (EXISTS, (column,)) in result.failed_pairs()
    assert {f.columns for f in result.failed} == {(column,)}
    assert any(f.error and column in f.error for f in result.failed)


def test_failure_reports_count_and_sample():
    c = contract("case_reports")
    df = valid_frame(c)
    for row in (2, 4, 6):
        df = with_value(df, "route", "carrier_pigeon", row=row)
    [failure] = validate_frame(c, df).failed
    assert failure.unexpected_count == 3
    assert failure.sample == ("carrier_pigeon",) * 3
    json.dumps(failure.as_dict())


# --- the suites are derived from the contracts -------------------------------------------------


def test_suite_follows_a_changed_code_list():
    c = contract("case_reports")
    df = with_value(valid_frame(c), "route", "carrier_pigeon")
    assert failures(c, df) == {(IN_SET, ("route",))}
    route = c.column("route")
    widened = replace(c, columns=tuple(
        replace(col, codes=(*route.codes, "carrier_pigeon")) if col is route else col for col in c.columns
    ))
    assert failures(widened, df) == set()


@pytest.mark.parametrize("feed", FEEDS)
def test_suite_names_and_json(feed):
    c = contract(feed)
    suite = build_suite(c)
    assert suite.name == f"{feed}_valid"
    document = suite_as_json(c)
    text = json.dumps(document, ensure_ascii=False)
    assert document["name"] == f"{feed}_valid"
    assert len(document["expectations"]) == len(suite.expectations)
    for column in c.columns:
        assert f'"column": "{column.name}"' in text
    for rule in c.rules:
        assert '"row_condition"' in text and rule.required in text


def test_every_quarantine_rule_named_in_meta_exists():
    from kodomo.contracts import row_rules

    named = {(e.meta or {}).get("quarantine_rule") for f in FEEDS for e in build_suite(contract(f)).expectations}
    assert named - {None} <= set(row_rules())
    assert {"required_missing", "invalid_code", "out_of_range", "conditional_required"} <= named


# --- in memory, offline and fast ---------------------------------------------------------------


def test_batches_are_not_fingerprinted():
    # Hashing every cell would more than double the time to validate a large table.
    batch = _whole_frame_batch(valid_frame(contract("alerts")))
    assert "pandas_data_fingerprint" not in batch.batch_markers


def test_validation_writes_no_files_and_opens_no_connection(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    c = contract("checkups")
    assert validate_frame(c, valid_frame(c)).success
    assert list(tmp_path.iterdir()) == []
