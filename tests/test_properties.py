"""Property-based tests: the readers never crash; every input either parses or is quarantined."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodomo.contracts import contract, row_rules
from kodomo.csv_safe import FORMULA_STARTS, safe_cell
from kodomo.ingest.reader import FileRejected, ReadFile, read_csv_bytes
from kodomo.ingest.validate import check_rows
from kodomo.parsing.dates import DateError, format_era, parse_date, parse_datetime

DATE_ALPHABET = st.sampled_from(list("0123456789０１２３４５６７８９-/.: 年月日元令和平成昭RHSrhs　 \t"))


@given(st.text())
def test_parse_date_returns_a_date_or_raises_date_error(text):
    try:
        assert isinstance(parse_date(text), dt.date)
    except DateError:
        pass


@given(st.text(DATE_ALPHABET, max_size=24))
def test_parse_datetime_on_date_like_noise(text):
    try:
        assert isinstance(parse_datetime(text), dt.datetime)
    except DateError:
        pass


@given(st.dates(min_value=dt.date(1926, 12, 25), max_value=dt.date(2040, 12, 31)),
       st.sampled_from(["kanji", "letter", "letter0"]))
def test_every_day_round_trips_through_every_era_form(day, style):
    assert parse_date(format_era(day, style)) == day


@given(st.binary(max_size=2048))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_csv_reader_reads_or_rejects_arbitrary_bytes(data):
    try:
        read = read_csv_bytes(data)
    except FileRejected as rejected:
        assert rejected.rule in ("undecodable", "empty_file", "malformed_csv")
        return
    assert isinstance(read, ReadFile)
    assert len(read.records) == len(read.lines)
    assert all(line >= 2 for line in read.lines)


CELL = st.one_of(st.text(max_size=12), DATE_ALPHABET.map(str), st.sampled_from(["", "yes", "R3.4.1", "111007"]))


@given(st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_row_is_either_valid_or_quarantined_with_a_known_rule(data):
    c = contract("checkups")
    n = data.draw(st.integers(min_value=1, max_value=5))
    raw = pd.DataFrame({col: [data.draw(CELL) for _ in range(n)] for col in c.column_names}, dtype=object)
    delivery = pd.Series(pd.Timestamp("2022-03-31"), index=raw.index).astype("datetime64[s]")
    checked = check_rows(c, raw, delivery, frozenset({"111007"}))
    assert set(checked.rule.dropna()) <= set(row_rules())
    valid = checked.values[~checked.invalid]
    for col in c.required_columns:
        assert valid[col].notna().all()


@given(st.text(alphabet=st.sampled_from(list("=+-@\t\r'A1 (),\"!|")), max_size=8) | st.text(max_size=8))
def test_a_safe_cell_never_starts_a_formula_and_keeps_the_text(text):
    safe = safe_cell(text)
    assert not safe.startswith(FORMULA_STARTS)
    assert safe in (text, "'" + text)


DATETIME_LIKE = st.one_of(
    st.text(DATE_ALPHABET, max_size=24),
    st.builds(lambda day, time, sep: f"{day}{sep}{time}",
              st.sampled_from(["2021-04-01", "R3.4.1", "令和3年4月1日", "２０２１/４/１", "2021-02-30", "H31.5.1", ""]),
              st.sampled_from(["", "10:00", "7:30", "23:59:59", "24:00", "10:60", "１０：００", "10", " "]),
              st.sampled_from([" ", "　", "  ", ""])))


@given(st.lists(DATETIME_LIKE, min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_a_column_of_datetimes_parses_as_each_value_does_alone(texts):
    """The column-wise check parses each distinct date and time once: it must agree with parse_datetime."""
    c = contract("case_reports")
    raw = pd.DataFrame({col: [""] * len(texts) for col in c.column_names}, dtype=object)
    raw["received_at"] = texts
    checked = check_rows(c, raw, None, frozenset())
    for i, text in enumerate(texts):
        try:
            expected = parse_datetime(text) if text.strip() else None
        except DateError:
            assert "received_at:invalid_date" in checked.violations[i]
            assert pd.isna(checked.values["received_at"][i])
            continue
        assert "received_at:invalid_date" not in (checked.violations[i] or "")
        assert (pd.isna(checked.values["received_at"][i]) if expected is None
                else checked.values["received_at"][i] == pd.Timestamp(expected))
