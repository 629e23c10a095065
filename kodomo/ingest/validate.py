"""Row validation driven by a feed contract (source-feeds.md §3 and §6).

Works column-wise on a frame of raw strings; every value parser runs once per distinct value (a datetime's date
and time apart), so a million-row feed costs what its few thousand distinct dates and times cost.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from kodomo.contracts import Column, Contract, row_rules
from kodomo.parsing.codes import is_agency_id, is_municipality_code
from kodomo.parsing.dates import DateError, datetime_parts, parse_normalised_date, parse_time
from kodomo.parsing.text import fold_kana, nfkc

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_PREFECTURE = re.compile(r"[0-9]{2}")
_VERBATIM_TYPES = ("name", "text")
# Columns that are metadata about the record rather than events in the child's life.
_NOT_EVENTS = ("updated_at",)
_MIDNIGHT = np.timedelta64(0, "us")


@dataclass
class CheckedRows:
    values: pd.DataFrame  # normalised, typed values (missing = NA)
    rule: pd.Series  # primary rule of an invalid row, NA for a valid one
    column: pd.Series  # column of the primary rule
    violations: pd.Series  # every "column:rule" of the row, ';'-joined

    @property
    def invalid(self) -> pd.Series:
        return self.rule.notna()


@dataclass
class _Column:
    """One column: normalised text ('' = missing), typed value, and whether a present value is malformed."""

    text: np.ndarray
    value: np.ndarray
    malformed: np.ndarray

    @property
    def missing(self) -> np.ndarray:
        return self.text == ""


# A parser takes one normalised, non-empty text and returns (value, malformed).
Parser = Callable[[str], tuple[object, bool]]
# A column parser takes a column's distinct normalised texts and returns their values and whether each is malformed.
ColumnParser = Callable[[list[str]], tuple[Sequence[object], Sequence[bool]]]


def _each(parser: Parser) -> ColumnParser:
    """The column parser that calls ``parser`` on each of a column's (distinct) texts."""
    return partial(_by_distinct, parser=parser)


@lru_cache(maxsize=1 << 16)  # a feed's chunks share their few thousand dates: convert each once per process
def _date_parser(text: str) -> tuple[object, bool]:
    try:
        return np.datetime64(parse_normalised_date(text), "us"), False
    except DateError:
        return None, True


@lru_cache(maxsize=1 << 17)  # at most a day's seconds
def _time_parser(text: str) -> tuple[object, bool]:
    try:
        time = parse_time(text)
        return np.timedelta64(dt.timedelta(hours=time.hour, minutes=time.minute, seconds=time.second), "us"), False
    except DateError:
        return None, True


def _datetimes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Datetimes are nearly all distinct, their dates and times are not: each distinct date and time is parsed once."""
    parts = [datetime_parts(t) for t in texts]
    days, bad_days = _by_distinct([d for d, _ in parts], _date_parser)
    times, bad_times = _by_distinct([t for _, t in parts], _time_parser)
    time_of_day = np.array(times, dtype="timedelta64[us]")
    malformed = np.array(bad_days) | np.array(bad_times)  # '' parses to nothing, well formed
    values = np.array(days, dtype="datetime64[us]") + np.where(np.isnat(time_of_day), _MIDNIGHT, time_of_day)
    return np.where(malformed, np.datetime64("NaT", "us"), values), malformed


def _by_distinct(texts: list[str], parser: Parser) -> tuple[list[object], list[bool]]:
    """``parser`` over ``texts``, once per distinct text ('' parses to nothing, well formed)."""
    parsed = {t: parser(t) if t else (None, False) for t in dict.fromkeys(texts)}
    return [parsed[t][0] for t in texts], [parsed[t][1] for t in texts]


def _number_parser(column: Column) -> Parser:
    pattern = _INTEGER if column.type == "integer" else _DECIMAL

    def parser(text: str) -> tuple[object, bool]:
        return (float(text), False) if pattern.fullmatch(text) else (None, True)

    return parser


def _code_parser(column: Column) -> Parser:
    allowed = set(column.codes)

    def parser(text: str) -> tuple[object, bool]:
        code = text.lower()
        return code, code not in allowed

    return parser


def _code_set_parser(column: Column) -> Parser:
    allowed = set(column.codes)

    def parser(text: str) -> tuple[object, bool]:
        elements = [e.strip().lower() for e in text.split(column.separator)]
        if not all(e in allowed for e in elements):
            return None, True
        return column.separator.join(sorted(set(elements))), False

    return parser


def _membership_parser(known: Callable[[str], bool], transform: Callable[[str], str] = str) -> Parser:
    def parser(text: str) -> tuple[object, bool]:
        value = transform(text)
        return value, not known(value)

    return parser


def _verbatim(texts: list[str]) -> tuple[list[object], list[bool]]:
    return [t or None for t in texts], [False] * len(texts)


def _parser_for(column: Column, agencies: frozenset[str]) -> tuple[ColumnParser, str | None, str]:
    """(column parser, rule a malformed value breaks, numpy dtype of the value) for a contract type."""
    kind = column.type
    if kind in ("id", "name", "text"):
        return _verbatim, None, "object"
    if kind == "kana":
        return _each(lambda t: (fold_kana(t), False)), None, "object"
    if kind == "code":
        return _each(_code_parser(column)), "invalid_code", "object"
    if kind == "code_set":
        return _each(_code_set_parser(column)), "invalid_code", "object"
    if kind == "municipality_code":
        return _each(_membership_parser(is_municipality_code)), "invalid_municipality_code", "object"
    if kind == "agency_ref":
        return _each(_membership_parser(agencies.__contains__, str.upper)), "invalid_agency_id", "object"
    if kind == "agency_id":
        return _each(_membership_parser(is_agency_id, str.upper)), "invalid_agency_id", "object"
    if kind == "prefecture_code":
        return _each(_membership_parser(lambda t: bool(_PREFECTURE.fullmatch(t)))), "invalid_code", "object"
    if kind == "date":
        return _each(_date_parser), "invalid_date", "datetime64[us]"
    if kind == "datetime":
        return _datetimes, "invalid_date", "datetime64[us]"
    if kind in ("integer", "decimal"):
        return _each(_number_parser(column)), "invalid_number", "float64"
    raise ValueError(f"{column.name}: unknown contract type {kind!r}")


def _check_column(column: Column, raw: np.ndarray, agencies: frozenset[str]) -> tuple[_Column, str | None]:
    """Normalise and parse one column, each distinct raw value once."""
    parse, rule, dtype = _parser_for(column, agencies)
    normalise = str.strip if column.type in _VERBATIM_TYPES else nfkc
    codes, distinct = pd.factorize(raw, use_na_sentinel=False)
    texts = [normalise(v) for v in distinct]
    values, malformed = parse(texts)
    value_array = np.array(values, dtype=dtype) if dtype != "object" else np.array(values + [None], dtype=object)[:-1]
    return _Column(
        text=np.array(texts + [None], dtype=object)[:-1][codes],
        value=value_array[codes],
        malformed=np.array(malformed, dtype=bool)[codes],
    ), rule


def _as_typed(column: Column, value: np.ndarray, malformed: np.ndarray, index: pd.Index) -> pd.Series:
    if column.type in ("integer", "decimal"):
        series = pd.Series(np.where(malformed, np.nan, value), index=index)
        return series.astype("Int64") if column.type == "integer" else series
    if value.dtype.kind == "M":
        return pd.Series(np.where(malformed, np.datetime64("NaT"), value), index=index)
    return pd.Series(np.where(malformed, None, value), index=index, dtype=object)


def check_rows(
    contract: Contract, raw: pd.DataFrame, delivery_date: pd.Series | None, agencies: frozenset[str]
) -> CheckedRows:
    """Validate ``raw`` (one string column per contract column, '' = missing) against the contract.

    ``delivery_date`` (datetime64) is the file's delivery date per row, or None for agencies.csv.
    """
    found: list[tuple[str, str, np.ndarray]] = []  # (rule, column, mask)
    checked: dict[str, _Column] = {}
    for column in contract.columns:
        col, malformed_rule = _check_column(column, raw[column.name].to_numpy(dtype=object), agencies)
        checked[column.name] = col
        if column.required:
            found.append(("required_missing", column.name, col.missing))
        if malformed_rule:
            found.append((malformed_rule, column.name, col.malformed))
    _range_violations(contract, checked, found)
    delivery = None if delivery_date is None else delivery_date.to_numpy().astype("datetime64[D]")
    _date_violations(contract, checked, delivery, found)
    _conditional_violations(contract, checked, found)
    rule, where, violations = _summarise(found, raw.index)
    values = pd.DataFrame(
        {c.name: _as_typed(c, checked[c.name].value, checked[c.name].malformed, raw.index) for c in contract.columns},
        index=raw.index,
    )
    return CheckedRows(values=values, rule=rule, column=where, violations=violations)


def _range_violations(contract: Contract, checked: dict[str, _Column], found: list) -> None:
    for column in contract.columns:
        if column.type not in ("integer", "decimal"):
            continue
        numbers = checked[column.name].value
        with np.errstate(invalid="ignore"):
            outside = np.zeros(len(numbers), dtype=bool)
            if column.min is not None:
                outside |= numbers < column.min
            if column.max is not None:
                outside |= numbers > column.max
        found.append(("out_of_range", column.name, outside))


def _date_violations(
    contract: Contract, checked: dict[str, _Column], delivery: np.ndarray | None, found: list
) -> None:
    temporal = [c for c in contract.columns if c.is_temporal]
    birth = next((c for c in temporal if c.birth_date), None)
    birth_day = checked[birth.name].value.astype("datetime64[D]") if birth else None
    for column in temporal:
        day = checked[column.name].value.astype("datetime64[D]")  # NaT compares False
        if delivery is not None and not column.future_ok:
            found.append(("future_date", column.name, day > delivery))
        if birth_day is not None and not column.birth_date and column.name not in _NOT_EVENTS:
            found.append(("before_birth", column.name, day < birth_day))


def _conditional_violations(contract: Contract, checked: dict[str, _Column], found: list) -> None:
    for rule in contract.rules:
        applies = np.ones(len(checked[rule.required].text), dtype=bool)
        for name, code in rule.when.items():
            applies &= checked[name].value == code
        found.append(("conditional_required", rule.required, applies & checked[rule.required].missing))


def _summarise(found: list, index: pd.Index) -> tuple[pd.Series, pd.Series, pd.Series]:
    order = {rule: i for i, rule in enumerate(row_rules())}
    found = sorted(found, key=lambda f: order[f[0]])  # stable: columns keep contract order within a rule
    n = len(index)
    rule = np.full(n, None, dtype=object)
    where = np.full(n, None, dtype=object)
    parts: dict[int, list[str]] = {}  # of the invalid rows only: most rows are valid
    for name, column, mask in found:
        hits = np.flatnonzero(mask)
        if hits.size == 0:
            continue
        fresh = hits[rule[hits] == None]  # noqa: E711 — elementwise comparison on an object array
        rule[fresh] = name
        where[fresh] = column
        for i in hits.tolist():
            parts.setdefault(i, []).append(f"{column}:{name}")
    joined = np.full(n, None, dtype=object)
    for i, row_parts in parts.items():
        joined[i] = ";".join(row_parts)
    violations = pd.Series(joined, index=index, dtype="string")
    return (
        pd.Series(rule, index=index, dtype="string"),
        pd.Series(where, index=index, dtype="string"),
        violations,
    )
