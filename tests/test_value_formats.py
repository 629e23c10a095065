"""Every value format of source-feeds.md §3, valid and invalid, table-driven."""
import datetime as dt

import pytest

from kodomo.parsing.codes import is_agency_id, is_municipality_code, with_check_digit
from kodomo.parsing.dates import DateError, format_era, parse_date, parse_datetime
from kodomo.parsing.text import fold_kana, fold_kanji, split_name

D = dt.date

VALID_DATES = [
    ("2021-04-01", D(2021, 4, 1)),
    ("2021/4/1", D(2021, 4, 1)),
    ("2021/04/01", D(2021, 4, 1)),
    ("令和3年4月1日", D(2021, 4, 1)),
    ("令和元年5月1日", D(2019, 5, 1)),
    ("R3.4.1", D(2021, 4, 1)),
    ("R03.04.01", D(2021, 4, 1)),
    ("r3.4.1", D(2021, 4, 1)),
    ("H31.4.30", D(2019, 4, 30)),
    ("平成31年4月30日", D(2019, 4, 30)),
    ("S63.12.31", D(1988, 12, 31)),
    ("S64.1.7", D(1989, 1, 7)),
    ("H1.1.8", D(1989, 1, 8)),
    ("平成元年1月8日", D(1989, 1, 8)),
    ("S1.12.25", D(1926, 12, 25)),
    ("２０２１/４/１", D(2021, 4, 1)),
    ("令和３年４月１日", D(2021, 4, 1)),
    ("Ｒ３．４．１", D(2021, 4, 1)),
    (" 2021-04-01 ", D(2021, 4, 1)),
    ("2024-02-29", D(2024, 2, 29)),
]

INVALID_DATES = [
    "2021-02-30",
    "2023-02-29",
    "令和0年5月1日",
    "R0.5.1",
    "H31.5.1",
    "平成31年5月1日",
    "令和元年4月30日",
    "R1.4.30",
    "S64.1.8",
    "H1.1.7",
    "S1.12.24",
    "2月30日",
    "令和3年2月30日",
    "2021-13-01",
    "2021.04.01",
    "20210401",
    "X3.4.1",
    "",
    "令和",
    "2021-04-01 10:00",  # a datetime is not a date
]


@pytest.mark.parametrize(("text", "expected"), VALID_DATES)
def test_valid_dates_parse(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", INVALID_DATES)
def test_invalid_dates_are_rejected_with_the_value_named(text):
    with pytest.raises(DateError) as err:
        parse_date(text)
    assert repr(text.strip()) in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-04-01", dt.datetime(2021, 4, 1)),
        ("2021-04-01 09:05", dt.datetime(2021, 4, 1, 9, 5)),
        ("2021/4/1 23:59:59", dt.datetime(2021, 4, 1, 23, 59, 59)),
        ("令和3年4月1日 10:00", dt.datetime(2021, 4, 1, 10, 0)),
        ("R03.04.01 7:30", dt.datetime(2021, 4, 1, 7, 30)),
        ("２０２１/４/１　１０：００", dt.datetime(2021, 4, 1, 10, 0)),
    ],
)
def test_valid_datetimes(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2021-04-01 24:00", "2021-04-01 10:60", "2021-04-01 10", "2021-04-01T10:00",
                                  "2021-02-30 10:00", "H31.5.1 10:00", "2021-04-01 10:00 JST"])
def test_invalid_datetimes(text):
    with pytest.raises(DateError):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("day", "style", "text"),
    [
        (D(2019, 5, 1), "kanji", "令和元年5月1日"),
        (D(2019, 4, 30), "kanji", "平成31年4月30日"),
        (D(2021, 4, 1), "letter", "R3.4.1"),
        (D(2021, 4, 1), "letter0", "R03.04.01"),
        (D(1988, 12, 31), "letter", "S63.12.31"),
    ],
)
def test_era_formatting_round_trips(day, style, text):
    assert format_era(day, style) == text
    assert parse_date(text) == day


@pytest.mark.parametrize(
    ("code", "valid"),
    [("131016", True), ("011002", True), ("111007", True), ("131017", False), ("13101", False),
     ("1310160", False), ("13101X", False), ("１３１０１６", False)],
)
def test_municipality_check_digit(code, valid):
    # Full-width digits are narrowed by NFKC before this check; the check itself takes ASCII only.
    assert is_municipality_code(code) is valid


def test_check_digit_is_computed_from_the_first_five_digits():
    assert with_check_digit("13101") == "131016"
    assert with_check_digit("01100") == "011002"


@pytest.mark.parametrize(("agency_id", "valid"), [("C1101", True), ("111007", True), ("C11", False),
                                                  ("c1101", False), ("111008", False), ("CX101", False)])
def test_agency_ids(agency_id, valid):
    assert is_agency_id(agency_id) is valid


@pytest.mark.parametrize(
    "reading", ["タカハシ タロウ", "たかはし たろう", "ﾀｶﾊｼ ﾀﾛｳ", "タカハシ　タロウ", "ﾀｶﾊｼ　ﾀﾛｳ"]
)
def test_every_kana_form_folds_to_full_width_katakana(reading):
    assert fold_kana(reading) == "タカハシ タロウ"


def test_voiced_half_width_kana_fold_to_one_character():
    assert fold_kana("ｶﾞｯｺｳ") == "ガッコウ"


@pytest.mark.parametrize(("a", "b"), [("髙橋", "高橋"), ("山﨑", "山崎"), ("渡邊", "渡辺"), ("渡邉", "渡辺"),
                                      ("齋藤", "斎藤"), ("齊藤", "斎藤"), ("澤田", "沢田"), ("濵田", "浜田"),
                                      ("濱田", "浜田")])
def test_old_kanji_variants_fold_for_comparison(a, b):
    assert fold_kanji(a) == fold_kanji(b)


@pytest.mark.parametrize(("name", "parts"), [("高橋 太郎", ("高橋", "太郎")), ("高橋　太郎", ("高橋", "太郎")),
                                             ("高橋太郎", ("高橋太郎", ""))])
def test_name_split_on_any_space(name, parts):
    assert split_name(name) == parts
