"""The simulated period and the integer time base shared by every module.

Times are integers so that whole populations can be handled with numpy: a *day* counts days since
1970-01-01 and a *minute* counts minutes since 1970-01-01 00:00 (naive JST). Only the renderer turns
them into text.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
MINUTES_PER_DAY = 1440
DAYS_PER_YEAR = 365.25


def day_of(day: dt.date) -> int:
    return (day - EPOCH).days


def date_of(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


# Reports are simulated over six fiscal years (FY2019-FY2024). The period opens in April 2019 so that
# the first month is still 平成 and the 2019-04-30 / 05-01 era boundary lies inside the data.
PERIOD_START = day_of(dt.date(2019, 4, 1))
LAST_QUARTER_END = day_of(dt.date(2025, 3, 31))
# Every agency sends its final extract on the same day; it is the data's end (spec §7).
DATA_END = day_of(dt.date(2025, 4, 25))
# The oldest children in the world were born in 2005: 平成 births, teenagers during the period.
OLDEST_BIRTH = day_of(dt.date(2005, 1, 1))


def quarter_ends() -> np.ndarray:
    """Last day of every quarter from the first quarter of the period to LAST_QUARTER_END."""
    ends = []
    year, month = 2019, 6
    while True:
        first_of_next = dt.date(year + (month == 12), month % 12 + 1, 1)
        end = day_of(first_of_next) - 1
        if end > LAST_QUARTER_END:
            return np.array(ends, dtype=np.int64)
        ends.append(end)
        year, month = (year + 1, 3) if month == 12 else (year, month + 3)


def years_between(first_day: np.ndarray | int, last_day: np.ndarray | int) -> np.ndarray:
    return (np.asarray(last_day) - np.asarray(first_day)) / DAYS_PER_YEAR


def office_minute(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """A time during office hours (08:30-18:59) on each of ``days``."""
    days = np.asarray(days, dtype=np.int64)
    return days * MINUTES_PER_DAY + rng.integers(510, 1140, size=days.shape)
