"""The ``overdue_immunizations`` feature against the dbt schedule seed: programme alternatives, calendar-month
and interval-based due dates, MR's year before school, routine start dates and what is known at receipt.

Each case counts by hand the doses whose standard-timing due date falls from the day the records begin
(another child's first dose) to the day before receipt, and that no record known at receipt gives.
"""
from __future__ import annotations

import pytest

from ml.features import build_features
from tests.test_ml import MiniWarehouse, report


def given(vaccine: str, dose: int, on: str, entered: str | None = None) -> dict:
    """A dose administered ``on`` a date and entered in the records that day (or ``entered``)."""
    return {"vaccine": vaccine, "dose": dose, "administered_date": on, "entered": entered or on}


def overdue_at_receipt(birth: str, received: str, records_begin: str, doses: tuple[dict, ...] = ()) -> int:
    w = MiniWarehouse().link("111007", "A1", "P1")
    w.add("immunizations", f"{records_begin} 09:00", local_child_id="B1", birth_date="2010-01-01", vaccine="bcg",
          dose=1, administered_date=records_begin)
    for d in doses:
        w.add("immunizations", f"{d['entered']} 09:00", birth_date=birth, vaccine=d["vaccine"], dose=d["dose"],
              administered_date=d["administered_date"])
    report(w, "R1", f"{received} 10:00", birth_date=birth)
    return int(build_features(w.build()).set_index("report_id").loc["R1", "overdue_immunizations"])


# Born 2024-01-20, first dose due 2024-03-20 (before 2024-04): 4-in-1 + Hib. Due from 2024-10-01 to receipt on
# 2025-01-10: hepb 3 and BCG (2024-10-19), dpt_ipv and hib 2 (7 months - 1 day + 56 days: 2024-10-14) and 3
# (2024-12-09). Rota (2024-08-30 at the latest) and pcv 1 fell due before the records; pcv 2-3 on 2025-01-19.
FOUR_IN_ONE = {"birth": "2024-01-20", "received": "2025-01-10", "records_begin": "2024-10-01"}

CASES = [
    # Born 2024-03-01, first dose due 2024-05-01: 5-in-1, one count per dose. Due from 2024-10-01: hepb 3 and
    # BCG (2024-11-30), 5-in-1 2 (2024-11-25) and 3 (2025-01-20); rota 2-3 of the 3-dose programme
    # (2024-10-10) do not count, as the 2-dose programme's last dose fell due before the records (2024-08-15).
    pytest.param({"birth": "2024-03-01", "received": "2025-01-25", "records_begin": "2024-10-01"}, 4,
                 id="five_in_one_counts_each_dose_once"),
    pytest.param(FOUR_IN_ONE, 1 + 2 + 2 + 1, id="four_in_one_and_hib_count_each_vaccine"),
    # A recorded 5-in-1 dose offers that programme too: 5-in-1 2 and 3 (2 overdue) fit better than 4-in-1 + Hib (4).
    pytest.param(FOUR_IN_ONE | {"doses": (given("dpt_ipv_hib", 1, "2024-10-05"),)}, 1 + 2 + 1,
                 id="a_child_who_switched_is_judged_by_the_programme_that_fits"),
    # hepb 1 is due before 3 calendar months: 92 days for a child born on May 31, 90 for one born on
    # Nov 30 (February is short). Overdue from the day the child is 3 months old.
    pytest.param({"birth": "2024-05-31", "received": "2024-08-30", "records_begin": "2024-01-01"}, 0,
                 id="born_on_the_31st_on_time_the_day_before_3_months"),
    pytest.param({"birth": "2024-05-31", "received": "2024-08-31", "records_begin": "2024-01-01"}, 1,
                 id="born_on_the_31st_overdue_at_3_months"),
    pytest.param({"birth": "2024-11-30", "received": "2025-02-27", "records_begin": "2024-01-01"}, 0,
                 id="3_months_through_february_on_time"),
    pytest.param({"birth": "2024-11-30", "received": "2025-02-28", "records_begin": "2024-01-01"}, 1,
                 id="3_months_through_february_overdue"),
    # je 2 is due 28 days after je 1's standard due date (2021-05-09): by 2021-06-06, however late je 1 came.
    pytest.param({"birth": "2017-05-10", "received": "2021-06-06", "records_begin": "2021-01-01",
                  "doses": (given("je", 1, "2021-06-01"),)}, 0, id="interval_dose_on_time_on_its_standard_due_date"),
    pytest.param({"birth": "2017-05-10", "received": "2021-06-07", "records_begin": "2021-01-01",
                  "doses": (given("je", 1, "2021-06-01"),)}, 1, id="interval_dose_overdue_after_its_standard_due_date"),
    # MR 2 is due by the day before school entry: 2024-04-01 for a child born 2018-04-01 (the year above),
    # 2025-04-01 for one born the next day.
    pytest.param({"birth": "2018-04-01", "received": "2024-03-31", "records_begin": "2023-06-01"}, 0,
                 id="mr2_on_time_on_the_last_day_before_school"),
    pytest.param({"birth": "2018-04-01", "received": "2024-04-01", "records_begin": "2023-06-01"}, 1,
                 id="mr2_overdue_at_school_entry"),
    pytest.param({"birth": "2018-04-02", "received": "2024-04-01", "records_begin": "2023-06-01"}, 0,
                 id="mr2_born_april_2_enters_school_a_year_later"),
    pytest.param({"birth": "2018-04-02", "received": "2025-04-01", "records_begin": "2023-06-01"}, 1,
                 id="mr2_born_april_2_overdue_a_year_later"),
    # What is recorded after receipt, given or entered, neither counts nor offers a programme.
    pytest.param(FOUR_IN_ONE | {"doses": (given("hib", 2, "2024-12-01", entered="2025-01-11"),)}, 6,
                 id="a_dose_entered_after_receipt_does_not_count"),
    pytest.param(FOUR_IN_ONE | {"doses": (given("dpt_ipv", 2, "2025-01-11"),)}, 6,
                 id="a_dose_given_after_receipt_does_not_count"),
    pytest.param(FOUR_IN_ONE | {"doses": tuple(given("dpt_ipv_hib", n, "2024-12-20", entered="2025-01-11")
                                               for n in (1, 2, 3))}, 6,
                 id="a_programme_recorded_after_receipt_is_not_offered"),
    pytest.param(FOUR_IN_ONE | {"doses": (given("hib", 2, "2024-12-01", entered="2024-12-02"),)}, 5,
                 id="a_dose_known_at_receipt_counts"),
    # hepb is routine for births from 2016-04-01: due by 2016-06-30 and 2016-07-31 for a child born that day.
    pytest.param({"birth": "2016-04-01", "received": "2016-08-01", "records_begin": "2016-01-01"}, 2,
                 id="hepb_routine_for_births_from_2016_04_01"),
    pytest.param({"birth": "2016-03-31", "received": "2016-08-01", "records_begin": "2016-01-01"}, 0,
                 id="hepb_not_routine_for_births_before"),
]


@pytest.mark.parametrize(("case", "expected"), CASES)
def test_overdue_immunizations_follow_the_seed_schedule(case, expected):
    assert overdue_at_receipt(**case) == expected
