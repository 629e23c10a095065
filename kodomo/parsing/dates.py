"""Dates and datetimes in every form of source-feeds.md §3: ISO, slashes and Japanese eras (和暦)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from kodomo.parsing.text import nfkc


@dataclass(frozen=True)
class Era:
    kanji: str
    letter: str
    first_day: dt.date
    last_day: dt.date | None

    @property
    def offset(self) -> int:
        """Gregorian year = era year + offset."""
        return self.first_day.year - 1


ERAS = (
    Era("昭和", "S", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("平成", "H", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("令和", "R", dt.date(2019, 5, 1), None),
)
_ERA_BY_NAME = {e.kanji: e for e in ERAS} | {e.letter: e for e in ERAS}

_GREGORIAN = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
_ERA_KANJI = re.compile(r"(昭和|平成|令和)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日")
_ERA_LETTER = re.compile(r"([SHR])(\d{1,2})\.(\d{1,2})\.(\d{1,2})", re.IGNORECASE)
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


class DateError(ValueError):
    """A value that is not a date of the spec, or a date that does not exist."""


def era_of(day: dt.date) -> Era:
    for era in reversed(ERAS):
        if day >= era.first_day:
            return era
    raise DateError(f"{day} is before the 昭和 era")


@lru_cache(maxsize=1 << 16)  # feeds repeat few dates with many times: parse each date once
def _date_from_parts(text: str) -> dt.date:
    if m := _GREGORIAN.fullmatch(text):
        year, month, day = int(m[1]), int(m[3]), int(m[4])
        return _make_date(year, month, day, text)
    if m := _ERA_KANJI.fullmatch(text):
        era_name, year_text, month, day = m[1], m[2], int(m[3]), int(m[4])
    elif m := _ERA_LETTER.fullmatch(text):
        era_name, year_text, month, day = m[1].upper(), m[2], int(m[3]), int(m[4])
    else:
        raise DateError(f"not a date in any accepted form: {text!r}")
    era = _ERA_BY_NAME[era_name]
    era_year = 1 if year_text == "元" else int(year_text)
    if era_year < 1:
        raise DateError(f"era year must be at least 1 (元年): {text!r}")
    day_value = _make_date(era_year + era.offset, month, day, text)
    if day_value < era.first_day or (era.last_day is not None and day_value > era.last_day):
        raise DateError(f"{text!r} is outside the {era.kanji} era")
    return day_value


def _make_date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise DateError(f"no such date: {text!r}") from exc


def parse_date(text: str) -> dt.date:
    """Parse one date; raise DateError naming the value when it is not a valid date."""
    return parse_normalised_date(nfkc(text))


def parse_normalised_date(text: str) -> dt.date:
    """``parse_date`` of a text already passed through ``nfkc``, which narrows full-width digits and punctuation
    (２０２１／４／１) and turns U+3000 into a space (ingestion normalises every column first)."""
    return _date_from_parts(text)


def datetime_parts(value: str) -> tuple[str, str]:
    """A normalised datetime's date part and time part ('' when it has none): parsed apart, so that a feed's many
    datetimes cost what their few distinct dates and times cost."""
    date_part, _, time_part = value.partition(" ")
    return date_part, time_part.strip()


@lru_cache(maxsize=1 << 17)  # at most a day's seconds
def parse_time(text: str) -> dt.time:
    """Parse a normalised time HH:MM[:SS]; raise DateError when it is not one or does not exist."""
    m = _TIME.fullmatch(text)
    if not m:
        raise DateError(f"not a time HH:MM or HH:MM:SS: {text!r}")
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(f"no such time: {text!r}")
    return dt.time(hour, minute, second)


def parse_datetime(text: str) -> dt.datetime:
    """Parse a date optionally followed by a space and HH:MM[:SS] (JST, naive)."""
    date_part, time_part = datetime_parts(nfkc(text))
    day = parse_normalised_date(date_part)
    return dt.datetime.combine(day, parse_time(time_part) if time_part else dt.time())


def format_era(day: dt.date, style: str) -> str:
    """Write a date as 和暦: ``kanji`` 令和3年4月1日 / 令和元年…, ``letter`` R3.4.1, ``letter0`` R03.04.01."""
    era = era_of(day)
    year = day.year - era.offset
    if style == "kanji":
        year_text = "元" if year == 1 else str(year)
        return f"{era.kanji}{year_text}年{day.month}月{day.day}日"
    if style == "letter":
        return f"{era.letter}{year}.{day.month}.{day.day}"
    if style == "letter0":
        return f"{era.letter}{year:02d}.{day.month:02d}.{day.day:02d}"
    raise ValueError(f"unknown era style {style!r}")
