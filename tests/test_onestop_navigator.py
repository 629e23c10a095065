"""The navigator (kodomo.onestop.navigator): 児童扶養手当 by its rules, boundaries, validation."""
from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.onestop.navigator import (HouseholdError, age_limit_end, jido_fuyo_amount, jido_fuyo_shotoku,
                                      navigate, navigate_file, rule_versions, rules_for, salary_to_income)

HOUSEHOLD = {
    "as_of": "2025-06-01", "caregiver": {"relationship": "mother", "reason_alone": "divorced"},
    "children": [{"birth_date": "2019-05-10", "disability": "none"}], "dependants": 1,
    "income": {"jido_fuyo_shotoku_yen": 1500000}, "work": "employed", "studying": False,
    "housing": "renting", "municipality_code": "111007",
}


def household(**changes) -> dict:
    h = copy.deepcopy(HOUSEHOLD)
    h.update(changes)
    return h


def programme(answer: dict, pid: str) -> dict | None:
    return next((p for p in answer["programmes"] if p["programme"] == pid), None)


def jft_rule(month: str) -> dict:
    return rules_for(dt.date.fromisoformat(month + "-01"))["programmes"]["jido_fuyo_teate"]


# (month, 所得額, dependants, children, expected monthly): at each limit, one yen under, one yen over.
JIDO_FUYO_CASES = [
    ("2025-06", 1069999, 1, 1, 46690),        # one yen under the full limit (1,070,000 for 1 dependant)
    ("2025-06", 1070000, 1, 1, 46680),        # at the full limit: partial, Δ = 0
    ("2025-06", 1070001, 1, 1, 46680),
    ("2025-06", 2459999, 1, 1, 11010),        # one yen under the partial limit: the published minimum
    ("2025-06", 2460000, 1, 1, 0),            # at the partial limit: nothing
    ("2025-06", 689999, 0, 1, 46690),
    ("2025-06", 690000, 0, 1, 46680),
    ("2025-06", 2079999, 0, 1, 11010),
    ("2025-06", 2080000, 0, 1, 0),
    ("2025-06", 1449999, 2, 2, 46690 + 11030),
    ("2025-06", 1450000, 2, 2, 46680 + 11020),
    ("2025-06", 2839999, 2, 2, 11010 + 5520),
    ("2025-06", 2840000, 2, 2, 0),
    ("2025-06", 1829999, 3, 3, 46690 + 2 * 11030),   # 3rd child's addition = 2nd's (since 2024-11)
    ("2025-06", 2209999, 4, 1, 46690),                # +380,000 per further dependant
    ("2025-06", 2210000, 4, 1, 46680),
    ("2025-06", 3599999, 4, 1, 11010),
    ("2025-06", 3600000, 4, 1, 0),
    ("2025-03", 1069999, 1, 1, 45500),        # 2024-11 rules
    ("2025-03", 1070000, 1, 1, 45490),
    ("2025-03", 2459999, 1, 1, 10740),
    ("2025-03", 2459999, 1, 2, 10740 + 5380),
    ("2025-03", 2460000, 1, 2, 0),
    ("2024-11", 1500000, 1, 1, 45500 - (10750 + 10)),  # Δ 430,000 × 0.025 = 10,750 → 45,500 − 10,760
]


@pytest.mark.parametrize(("month", "shotoku", "dependants", "children", "expected"), JIDO_FUYO_CASES)
def test_jido_fuyo_amount_at_the_limits(month, shotoku, dependants, children, expected):
    assert jido_fuyo_amount(shotoku, dependants, children, "mother", jft_rule(month))[0] == expected


@pytest.mark.parametrize("month", ["2024-11", "2025-04"])
def test_formula_reproduces_the_published_partial_ranges(month):
    """The official pages publish each partial range (highest, lowest): the formula must give both."""
    rule = jft_rule(month)
    full_limit = rule["limits"]["full_base"] + rule["limits"]["per_dependant"]
    just_under_partial = rule["limits"]["partial_base"] + rule["limits"]["per_dependant"] - 1
    first_hi, first_lo = rule["amounts"]["published_partial_first"]
    further_hi, further_lo = rule["amounts"]["published_partial_further"]
    assert jido_fuyo_amount(full_limit, 1, 1, "mother", rule)[0] == first_hi
    assert jido_fuyo_amount(just_under_partial, 1, 1, "mother", rule)[0] == first_lo
    assert jido_fuyo_amount(full_limit, 1, 2, "mother", rule)[0] == first_hi + further_hi
    assert jido_fuyo_amount(just_under_partial, 1, 2, "mother", rule)[0] == first_lo + further_lo


def test_hirado_worked_example():
    """平戸市's example: 給与所得 2,800,000, 養育費 300,000, 控除 0, 扶養 3, 児童 3 (令和7年度).

    所得額 = 2,800,000 − 100,000 + 240,000 − 80,000 = 2,860,000; Δ = 2,860,000 − 1,830,000 = 1,030,000;
    1人目 46,690 − (round10(26,431.76) + 10) = 20,250; 2人目以降 11,030 − (round10(4,075.50) + 10) = 6,940.
    """
    rules = rules_for(dt.date(2025, 6, 1))
    r = rules["income"]
    shotoku = 2_800_000 - r["salary_or_pension_reduction"] + int(300_000 * r["child_support_share"]) \
        - r["flat_deduction"]
    assert shotoku == 2_860_000
    assert jido_fuyo_amount(shotoku, 3, 3, "mother", rules["programmes"]["jido_fuyo_teate"])[0] == 20250 + 2 * 6940


def test_rounding_is_half_up_to_ten_yen():
    rule = jft_rule("2024-11")
    # Δ × 0.025 = 12.5 → 10 (a remainder 2.5 under 5 is dropped); 17.5 → 20 (7.5 rounds up).
    assert jido_fuyo_amount(1070000 + 500, 1, 1, "mother", rule)[0] == 45500 - 20
    assert jido_fuyo_amount(1070000 + 700, 1, 1, "mother", rule)[0] == 45500 - 30


def test_carer_has_one_limit_and_no_partial_amount():
    rule = jft_rule("2025-04")
    assert jido_fuyo_amount(2739999, 1, 1, "other", rule)[0] == 46690
    assert jido_fuyo_amount(2740000, 1, 1, "other", rule)[0] == 0


# 給与所得 (所得税法 別表第五) at the table's boundaries.
@pytest.mark.parametrize(("salary", "income"), [
    (550999, 0), (551000, 1000), (1618999, 1068999), (1619000, 1069000), (1627999, 1074000),
    (1628000, 1076800), (1799999, 1177600), (1800000, 1180000), (3599999, 2437200), (3600000, 2440000),
    (6599999, 4836800), (6600000, 4840000), (8499999, 6549999), (8500000, 6550000),
])
def test_salary_income_table(salary, income):
    assert salary_to_income(salary, rules_for(dt.date(2025, 6, 1))["income"]["salary_income"]["table"]) == income


def test_shotoku_from_salary_says_how():
    rules = rules_for(dt.date(2025, 6, 1))
    value, how = jido_fuyo_shotoku({"salary_income_yen": 3600000, "child_support_yen": 300000}, rules)
    assert value == 2440000 - 100000 + 240000 - 80000
    assert "給与所得2,440,000円" in how and "養育費300,000円" in how and "一律控除80,000円" in how


def test_navigate_answer_shape_and_wording():
    answer = navigate(household())
    assert set(answer) == {"as_of", "rules_version", "programmes"}
    assert answer["rules_version"] == "2025-04" and answer["as_of"] == "2025-06-01"
    for p in answer["programmes"]:
        assert set(p) == {"programme", "likely", "monthly_yen", "why", "bring", "window", "sources"}
        assert p["programme"] in PROGRAMMES and p["likely"] in {"yes", "maybe", "no"}
        assert p["sources"] and all(s.startswith("http") for s in p["sources"])
        assert "見込み" in p["why"] and "確認すること" in p["why"]
    jft = programme(answer, "jido_fuyo_teate")
    assert (jft["likely"], jft["monthly_yen"]) == ("yes", 35650)   # Δ 430,000 × 0.0256619 → 11,030 + 10
    order = [p["programme"] for p in answer["programmes"]]
    assert order == [pid for pid in PROGRAMMES if pid in order]


def test_jido_fuyo_teate_always_listed_even_when_nothing_is_due():
    answer = navigate(household(income={"jido_fuyo_shotoku_yen": 5_000_000}))
    jft = programme(answer, "jido_fuyo_teate")
    assert (jft["likely"], jft["monthly_yen"]) == ("no", 0)


def test_salary_route_gives_the_same_as_the_shotoku_route():
    by_salary = navigate(household(income={"salary_income_yen": 2_000_000, "child_support_yen": 100_000}))
    shotoku = 1_320_000 - 100_000 + 80_000 - 80_000   # 給与所得 of 2,000,000 is 1,320,000
    by_shotoku = navigate(household(income={"jido_fuyo_shotoku_yen": shotoku}))
    assert programme(by_salary, "jido_fuyo_teate")["monthly_yen"] == \
        programme(by_shotoku, "jido_fuyo_teate")["monthly_yen"]


@pytest.mark.parametrize(("birth", "month", "counted"), [
    ("2007-04-02", "2026-03-01", True),    # reaches 18 on 2025-04-01: until 31 March 2026
    ("2007-04-01", "2025-03-01", True),    # reaches 18 on 2025-03-31: March is the last month
    ("2007-04-01", "2025-04-01", False),
])
def test_child_counts_until_the_march_after_reaching_18(birth, month, counted):
    limit = rules_for(dt.date(2025, 3, 1))["programmes"]["jido_fuyo_teate"]["child_age"]
    assert (dt.date.fromisoformat(month) <= age_limit_end(dt.date.fromisoformat(birth), limit)) is counted


def test_disabled_child_counts_until_20():
    h = household(as_of="2025-10-01", children=[{"birth_date": "2006-10-20", "disability": "moderate"}])
    assert programme(navigate(h), "jido_fuyo_teate")["monthly_yen"] == 35650
    h["children"][0]["disability"] = "none"
    assert programme(navigate(h), "jido_fuyo_teate")["monthly_yen"] == 0


@pytest.mark.parametrize(("shotoku", "likely"), [(2_459_999, "yes"), (2_460_000, "no")])
def test_training_allowance_at_the_income_limit(shotoku, likely):
    answer = navigate(household(studying=True, income={"jido_fuyo_shotoku_yen": shotoku}))
    koto = programme(answer, "koto_shokugyo_kunren")
    assert koto["likely"] == likely and koto["monthly_yen"] == (70500 if likely == "yes" else 0)


@pytest.mark.parametrize(("pid", "shotoku", "likely"), [
    ("jiritsu_kyoiku_kunren", 2_459_999, "maybe"), ("jiritsu_kyoiku_kunren", 2_460_000, "no"),
    ("iryohi_josei", 2_459_999, "yes"), ("iryohi_josei", 2_460_000, "no"),
    ("jutaku_shien_kashitsuke", 2_459_999, "maybe"), ("jutaku_shien_kashitsuke", 2_460_000, "no"),
    ("kosotsu_nintei_shien", 2_459_999, "maybe"), ("kosotsu_nintei_shien", 2_460_000, "no"),
])
def test_income_tested_programmes_at_the_limit(pid, shotoku, likely):
    p = programme(navigate(household(income={"jido_fuyo_shotoku_yen": shotoku})), pid)
    assert p["likely"] == likely and p["monthly_yen"] is None


def test_housing_loan_needs_a_rented_home_and_yoikuhi_a_living_other_parent():
    assert programme(navigate(household(housing="own")), "jutaku_shien_kashitsuke")["likely"] == "no"
    widowed = navigate(household(caregiver={"relationship": "mother", "reason_alone": "widowed"}))
    assert programme(widowed, "yoikuhi") is None
    assert programme(navigate(household()), "yoikuhi")["likely"] == "maybe"


def test_job_centre_is_likely_when_not_working():
    assert programme(navigate(household(work="not_working")), "shugyo_shien_center")["likely"] == "yes"
    assert programme(navigate(household()), "shugyo_shien_center")["likely"] == "maybe"


@pytest.mark.parametrize(("births", "as_of", "expected"), [
    (["2025-01-10"], "2025-06-01", 15000),                       # under 3
    (["2022-06-15"], "2025-06-01", 15000),                       # reaches 3 on 2025-06-14: June still 15,000
    (["2022-06-15"], "2025-07-01", 10000),
    (["2004-01-01", "2010-01-01", "2015-01-01"], "2025-06-01", 10000 + 30000),  # eldest (21) counts for rank
    (["2003-01-01", "2010-01-01", "2015-01-01"], "2025-06-01", 10000 + 10000),  # eldest past 22's year end
])
def test_child_allowance(births, as_of, expected):
    h = household(as_of=as_of, children=[{"birth_date": b, "disability": "none"} for b in births])
    assert programme(navigate(h), "jido_teate")["monthly_yen"] == expected


def test_programmes_for_no_child_in_age_are_left_out():
    h = household(children=[{"birth_date": "2008-01-01", "disability": "none"}])   # 17: no nursery
    ids = {p["programme"] for p in navigate(h)["programmes"]}
    assert "hoiku_yusen" not in ids and "gakushu_shien" in ids


def test_rules_are_chosen_by_as_of():
    assert navigate(household(as_of="2025-03-31"))["rules_version"] == "2024-11"
    assert navigate(household(as_of="2025-04"))["rules_version"] == "2025-04"
    assert navigate(household(as_of="2026-03-31"))["rules_version"] == "2025-04"
    with pytest.raises(HouseholdError, match=r"^as_of: 2024-10 is before the first rules"):
        navigate(household(as_of="2024-10-01"))


def test_a_month_after_the_last_rules_is_answered_with_them_and_says_unconfirmed():
    """No official 令和8年度 figures were found: from 2026-04 the 2025-04 figures are the estimate, and
    both rules_version and every programme's why say they are not confirmed for that month."""
    last = rule_versions()[-1]
    assert last["effective_until"] == dt.date(2026, 3, 31)
    confirmed, later = navigate(household(as_of="2026-03-01")), navigate(household(as_of="2026-11-29"))
    assert later["rules_version"] == f"{last['version']} (unconfirmed for 2026-11)"
    assert programme(later, "jido_fuyo_teate")["monthly_yen"] == programme(confirmed, "jido_fuyo_teate")["monthly_yen"]
    assert all(p["why"].startswith("【ご注意】2026年11月分の") and "まだ公式の資料で確認できていません" in p["why"]
               for p in later["programmes"])
    assert not any("【ご注意】" in p["why"] for p in confirmed["programmes"])


def test_every_rules_version_covers_the_whole_catalogue_with_sources():
    for rules in rule_versions():
        assert set(rules["programmes"]) == set(PROGRAMMES), rules["version"]
        assert all(p["sources"] and p["bring"] and p["window"] for p in rules["programmes"].values())


@pytest.mark.parametrize(("change", "message"), [
    (lambda h: h.pop("as_of"), r"^as_of: missing$"),
    (lambda h: h.update(as_of="June"), r"^as_of: expected YYYY-MM-DD or YYYY-MM"),
    (lambda h: h["caregiver"].update(relationship="aunt"), r"^caregiver\.relationship: 'aunt' is not one of"),
    (lambda h: h["caregiver"].pop("reason_alone"), r"^caregiver\.reason_alone: missing$"),
    (lambda h: h.update(children=[]), r"^children: expected a list of at least one child$"),
    (lambda h: h["children"][0].update(birth_date="2019-13-01"), r"^children\[0\]\.birth_date: expected a date"),
    (lambda h: h["children"][0].update(birth_date="2025-07-01"), r"^children\[0\]\.birth_date: .* after the month"),
    (lambda h: h["children"][0].update(disability="mild"), r"^children\[0\]\.disability: 'mild' is not one of"),
    (lambda h: h.update(dependants=-1), r"^dependants: expected a whole number"),
    (lambda h: h.update(income={}), r"^income: give exactly one of"),
    (lambda h: h.update(income={"jido_fuyo_shotoku_yen": 1, "salary_income_yen": 1}), r"^income: give exactly one"),
    (lambda h: h.update(income={"salary_income_yen": "2百万"}), r"^income\.salary_income_yen: expected a whole"),
    (lambda h: h["income"].update(child_support_yen=1), r"^income\.child_support_yen: only with salary_income_yen"),
    (lambda h: h.update(work="parttime"), r"^work: 'parttime' is not one of"),
    (lambda h: h.update(studying="no"), r"^studying: expected true or false"),
    (lambda h: h.update(housing="tent"), r"^housing: 'tent' is not one of"),
    (lambda h: h.update(municipality_code="111000"), r"^municipality_code: '111000' is not a 6-digit code"),
])
def test_bad_household_is_a_one_line_error_naming_the_field(change, message):
    h = household()
    change(h)
    with pytest.raises(HouseholdError, match=message) as error:
        navigate(h)
    assert "\n" not in str(error.value)


def test_unknown_fields_are_ignored():
    assert navigate(household(pet="cat"))["rules_version"] == "2025-04"


def test_navigate_file(tmp_path):
    path = tmp_path / "household.json"
    path.write_text(json.dumps(HOUSEHOLD), encoding="utf-8")
    assert navigate_file(path) == navigate(HOUSEHOLD)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"household\.json: not JSON"):
        navigate_file(path)
    with pytest.raises(ValueError, match="household file not found"):
        navigate_file(tmp_path / "missing.json")
