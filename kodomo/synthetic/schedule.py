"""Timing of infant checkups and of the routine immunization schedule (japan-facts.md).

Ages are in days. Each dose knows the dose before it in its series: a later dose is never given
before the earlier one plus the minimum interval, and a series stops at the first missed dose.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from kodomo.synthetic.clock import day_of

# Checkup type -> (earliest, latest) age at the scheduled session.
CHECKUP_AGE = {"m4": (95, 125), "m18": (548, 600), "y3": (1100, 1190)}
# Attendance at baseline risk: 3-4 months ~96 %, 1y6m ~95 %, 3y ~93 % once risk is mixed in.
CHECKUP_ATTEND_LOGIT = {"m4": 3.6, "m18": 3.4, "y3": 3.0}

# Children whose first dose (at 2 months) falls from 2024-04 on get 5種混合 instead of 4種混合 + Hib.
FIVE_IN_ONE_FIRST_BIRTH = day_of(dt.date(2024, 4, 1)) - 61
FOUR_IN_ONE_FIRST_BIRTH = day_of(dt.date(2012, 9, 1))  # 4種混合 began in November 2012
HEPB_FIRST_BIRTH = day_of(dt.date(2016, 4, 1))
ROTA_FIRST_BIRTH = day_of(dt.date(2020, 8, 1))
VARICELLA_FIRST_BIRTH = day_of(dt.date(2013, 10, 1))
NEVER = 10**7


@dataclass(frozen=True)
class Dose:
    vaccine: str
    dose: int
    target: int  # standard age, or days after the previous dose when ``after_previous``
    spread: int  # days of spread around the standard timing
    deadline: int  # age after which a missing dose is overdue
    miss_logit: float  # how often the dose is skipped at baseline risk
    min_gap: int = 0  # minimum days after the previous dose of the series
    after_previous: bool = False
    born_from: int = -NEVER  # the dose is routine for children born in [born_from, born_until)
    born_until: int = NEVER
    five_valent_only: bool = False  # the third rotavirus dose exists only for 5価 RotaTeq


def _primary_and_booster(vaccine: str, booster_age: int, born_from: int = -NEVER, born_until: int = NEVER):
    """Three primary doses at 2, 3 and 4 months, 27+ days apart, and a booster in the second year."""
    ages, deadlines, misses = (61, 89, 117, booster_age), (150, 180, 210, booster_age + 240), (-4.4, -4.2, -4.0, -3.4)
    return [Dose(vaccine, i + 1, age, 14, deadline, miss, min_gap=27 if i else 0, born_from=born_from,
                 born_until=born_until)
            for i, (age, deadline, miss) in enumerate(zip(ages, deadlines, misses))]


DOSES: tuple[Dose, ...] = (
    *_primary_and_booster("hib", 400, born_until=FIVE_IN_ONE_FIRST_BIRTH),
    *_primary_and_booster("dpt_ipv", 480, born_from=FOUR_IN_ONE_FIRST_BIRTH, born_until=FIVE_IN_ONE_FIRST_BIRTH),
    *_primary_and_booster("dpt_ipv_hib", 480, born_from=FIVE_IN_ONE_FIRST_BIRTH),
    *_primary_and_booster("pcv", 390),
    Dose("hepb", 1, 61, 14, 365, -4.3, born_from=HEPB_FIRST_BIRTH),
    Dose("hepb", 2, 89, 14, 365, -4.1, min_gap=27, born_from=HEPB_FIRST_BIRTH),
    Dose("hepb", 3, 225, 20, 365, -3.8, min_gap=139, born_from=HEPB_FIRST_BIRTH),
    Dose("rota", 1, 61, 10, 104, -3.9, born_from=ROTA_FIRST_BIRTH),
    Dose("rota", 2, 89, 10, 168, -3.8, min_gap=27, born_from=ROTA_FIRST_BIRTH),
    Dose("rota", 3, 117, 10, 224, -3.8, min_gap=27, born_from=ROTA_FIRST_BIRTH, five_valent_only=True),
    Dose("bcg", 1, 160, 45, 365, -4.2),
    Dose("mr", 1, 380, 40, 730, -3.9),
    Dose("var", 1, 390, 45, 730, -3.6, born_from=VARICELLA_FIRST_BIRTH),
    Dose("var", 2, 240, 60, 1095, -3.0, min_gap=90, after_previous=True, born_from=VARICELLA_FIRST_BIRTH),
    Dose("je", 1, 1120, 120, 1460, -3.0),
    Dose("je", 2, 14, 7, 1490, -3.5, min_gap=6, after_previous=True),
    Dose("je", 3, 365, 60, 2190, -2.8, min_gap=180, after_previous=True),
    Dose("je", 4, 3470, 200, 4745, -2.2),
)
# The second MR dose is given in the 年長 year (see ``mr2_window``), so its timing is not an age.
MR_SECOND = Dose("mr", 2, 0, 0, 0, -2.9, min_gap=365)


def mr2_window(birth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first day, last day) of the 年長 fiscal year: the year before the April the child enters school.

    A child born 2 April .. 1 April the next year enters school in the April after turning six.
    """
    born = np.asarray(birth).astype("datetime64[D]")
    month_start = born.astype("datetime64[M]")
    year = born.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (born - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    entry_year = year + 6 + ((month > 4) | ((month == 4) & (day > 1)))

    def april_first(years: np.ndarray) -> np.ndarray:
        return ((years - 1970) * 12 + 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)

    return april_first(entry_year - 1), april_first(entry_year) - 1
