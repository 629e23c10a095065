"""The ``overdue_immunizations`` feature of ``marts.intake_features`` against the dbt schedule seed.

At an intake received on day t, a scheduled dose counts when its status on t (macro ``immunization_status``,
dates from ``immunization_dose_windows`` on the doses known at receipt, intervals counted from the dose actually
given before; overdue after the standard period, missed after the legal window) is overdue or missed_window and
its due-by date lies inside the window the immunization records cover: from their first administration (here
2023-06-01, another child's dose) to the day before t. Every child is judged so, whatever its age; a dose waiting
for an earlier one not given is not counted (the earlier one is), nor is one whose catch-up rules the schedule
leaves to the health centre.

Each case is one child of one warehouse built once; its expected count is worked out by hand below.
"""
from __future__ import annotations

import pytest

from ml.features import read_features
from tests.test_ml import MiniWarehouse, in_world, report

RECORDS_BEGIN = "2023-06-01"


def given(vaccine: str, dose: int, on: str, entered: str | None = None) -> dict:
    """A dose administered ``on`` a date and entered in the records that day (or ``entered``)."""
    return {"vaccine": vaccine, "dose": dose, "administered_date": on, "entered": entered or on}


# Born 2024-01-20, received 2025-01-10, no dose on record; first dose due 2024-03-20 (before 2024-04): 4-in-1 +
# Hib. Overdue: hepb 1 (standard before 9 months: due by 2024-10-19), dpt_ipv 1, hib 1 and pcv 1 (before 7 months:
# 2024-08-19), BCG (before 8 months: 2024-09-19); past their legal window: rota 1 and 2 (to 24 weeks 0 days:
# 2024-07-06). hepb 2-3 and the later dpt_ipv doses wait for the dose before; the later hib and pcv doses follow
# the catch-up rules (no first dose before 7 months): ask the health centre, not counted.
FOUR_IN_ONE = {"birth": "2024-01-20", "received": "2025-01-10"}

CASES = [
    # Born 2024-03-01, first dose due 2024-05-01: 5-in-1, one count per dose. hepb 1 (2024-11-30), 5-in-1 1 and
    # pcv 1 (2024-09-30), BCG (2024-10-31) overdue; rota 1 and 2 past their window (2024-08-16).
    pytest.param({"birth": "2024-03-01", "received": "2025-01-25"}, 6, id="five_in_one_counts_each_dose_once"),
    pytest.param(FOUR_IN_ONE, 7, id="four_in_one_and_hib_count_each_vaccine"),
    # A recorded 5-in-1 dose makes that the programme; given at 8 months, its later doses follow the catch-up rules.
    pytest.param(FOUR_IN_ONE | {"doses": (given("dpt_ipv_hib", 1, "2024-10-05"),)}, 5,
                 id="a_child_who_switched_is_judged_by_the_programme_that_fits"),
    # hepb 1 is due before 9 calendar months: a child born on May 31 reaches them on 2025-02-28 (February is
    # short). The child's 5-in-1 1, pcv 1, BCG and rota 1-2 are overdue or missed on both days.
    pytest.param({"birth": "2024-05-31", "received": "2025-02-27"}, 5,
                 id="born_on_the_31st_on_time_the_day_before_9_months"),
    pytest.param({"birth": "2024-05-31", "received": "2025-02-28"}, 6, id="born_on_the_31st_overdue_at_9_months"),
    # je 2 is due 28 days after je 1 as actually given (2024-01-10): by 2024-02-07. The child's other doses fell
    # due before the records begin (je 1 by 2021-05-09, the infant doses in 2017-18).
    pytest.param({"birth": "2017-05-10", "received": "2024-02-07", "doses": (given("je", 1, "2024-01-10"),)}, 0,
                 id="interval_dose_on_time_28_days_after_the_dose_given"),
    pytest.param({"birth": "2017-05-10", "received": "2024-02-08", "doses": (given("je", 1, "2024-01-10"),)}, 1,
                 id="interval_dose_overdue_after_28_days"),
    # MR 2 is due by the day before school entry: 2024-03-31 for a child born 2018-04-01 (the year above),
    # 2025-03-31 for one born the next day.
    pytest.param({"birth": "2018-04-01", "received": "2024-03-31"}, 0, id="mr2_on_time_on_the_last_day_before_school"),
    pytest.param({"birth": "2018-04-01", "received": "2024-04-01"}, 1, id="mr2_overdue_at_school_entry"),
    pytest.param({"birth": "2018-04-02", "received": "2024-04-01"}, 0, id="mr2_born_april_2_enters_school_a_year_later"),
    pytest.param({"birth": "2018-04-02", "received": "2025-04-01"}, 1, id="mr2_born_april_2_overdue_a_year_later"),
    # An older child: its infant doses fell due years before the records; je 2期 (before age 10: 2023-08-31) inside.
    pytest.param({"birth": "2013-09-01", "received": "2023-08-31"}, 0, id="older_child_nothing_due_inside_the_records"),
    pytest.param({"birth": "2013-09-01", "received": "2023-09-01"}, 1, id="older_child_judged_on_the_doses_due_inside"),
    # What is recorded after receipt, given or entered, neither counts nor sets the programme.
    pytest.param(FOUR_IN_ONE | {"doses": (given("hib", 1, "2024-12-01", entered="2025-01-11"),)}, 7,
                 id="a_dose_entered_after_receipt_does_not_count"),
    pytest.param(FOUR_IN_ONE | {"doses": (given("dpt_ipv", 1, "2025-01-11"),)}, 7,
                 id="a_dose_given_after_receipt_does_not_count"),
    pytest.param(FOUR_IN_ONE | {"doses": tuple(given("dpt_ipv_hib", n, "2024-12-20", entered="2025-01-11")
                                               for n in (1, 2, 3))}, 7,
                 id="a_programme_recorded_after_receipt_is_not_offered"),
    # hib 1 on record: done (the later hib doses are for the health centre, as before).
    pytest.param(FOUR_IN_ONE | {"doses": (given("hib", 1, "2024-12-01", entered="2024-12-02"),)}, 6,
                 id="a_dose_known_at_receipt_counts"),
]


@pytest.fixture(scope="module")
def overdue(tmp_path_factory) -> dict[str, int]:
    """``overdue_immunizations`` of every case's intake, from one warehouse holding all of them."""
    records = MiniWarehouse().link("111007", "B0", "P0")
    records.add("immunizations", f"{RECORDS_BEGIN} 09:00", local_child_id="B0", birth_date="2022-12-01",
                vaccine="bcg", dose=1, administered_date=RECORDS_BEGIN)
    worlds = {"records": records}
    for case in CASES:
        values = case.values[0]
        w = MiniWarehouse().link("111007", "A1", "P1")
        for d in values.get("doses", ()):
            w.add("immunizations", f"{d['entered']} 09:00", birth_date=values["birth"], vaccine=d["vaccine"],
                  dose=d["dose"], administered_date=d["administered_date"])
        report(w, "R1", f"{values['received']} 10:00", birth_date=values["birth"])
        worlds[case.id] = w
    con = MiniWarehouse.merged(worlds).build(tmp_path_factory.mktemp("immunization"))
    features = read_features(con)
    con.close()
    return {name: int(in_world(features, name).set_index("report_id").loc["R1", "overdue_immunizations"])
            for name in worlds if name != "records"}


@pytest.mark.parametrize(("case", "expected"), CASES)
def test_overdue_immunizations_follow_the_seed_schedule(overdue, request, case, expected):
    assert overdue[request.node.callspec.id] == expected
