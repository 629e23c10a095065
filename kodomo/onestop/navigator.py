"""The single-parent navigator (one-stop.md §2–3): the programmes a household likely qualifies for.

Every rule and figure comes from the versioned files in ``rules/`` (the one in force for ``as_of``);
this module only knows how to apply them. Nothing is promised: each answer says "likely" and what
the window will check. A month after the last rules file's ``effective_until`` (its next revision not
yet confirmed from an official page) is answered with the last rules, and says so: ``rules_version``
reads "<version> (unconfirmed for <month>)" and every programme's ``why`` starts with the warning.
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import json
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.parsing.codes import is_municipality_code

RULES_DIR = Path(__file__).with_name("rules")

RELATIONSHIPS = ("mother", "father", "other")
REASONS_ALONE = ("divorced", "unmarried", "widowed", "spouse_disabled", "spouse_missing", "spouse_detained",
                 "protection_order", "other")
DISABILITIES = ("none", "moderate", "severe")
WORK = ("employed", "self_employed", "not_working")
HOUSING = ("renting", "own", "public", "with_family")
NEVER_PROMISED = "これは見込みで、支給や利用の可否・金額は窓口の審査で決まります。"
UNCONFIRMED = ("【ご注意】{month}分の手当額・所得制限限度額などは、まだ公式の資料で確認できていません。"
               "{until}分までの規則（{version}）で計算した目安で、実際の額とは違うことがあります"
               "（給与収入からの所得額の換算も、審査に使う年の税制で変わっていることがあります）。")


class HouseholdError(ValueError):
    """A missing field or a bad value of the household; the message is one line naming the field."""


# ---------------------------------------------------------------- rules


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


@functools.cache
def rule_versions() -> tuple[dict, ...]:
    """Every rules file, resolved through its ``extends`` chain, oldest first."""
    raw = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("version") != path.stem:
            raise ValueError(f"{path}: version {data.get('version')!r} differs from the file name")
        raw[path.stem] = data

    def resolve(version: str) -> dict:
        data = raw[version]
        parent = data.get("extends")
        if parent is None:
            return data
        if parent not in raw:
            raise ValueError(f"{RULES_DIR / version}.yml: extends unknown rules {parent!r}")
        return _merge({k: v for k, v in resolve(parent).items() if k != "extends"}, data)

    return tuple(sorted((resolve(v) for v in raw), key=lambda r: r["effective_from"]))


def rules_for(month: dt.date) -> dict:
    """The rules in force in ``month`` (its first day); after the last file's ``effective_until``, the
    last rules (``is_confirmed`` tells the two apart)."""
    versions = rule_versions()
    for rules in reversed(versions):
        if rules["effective_from"] <= month:
            return rules
    raise HouseholdError(f"as_of: {month:%Y-%m} is before the first rules ({versions[0]['effective_from']})")


def is_confirmed(rules: dict, month: dt.date) -> bool:
    """Do ``rules`` hold for ``month`` by an official source (not only as the latest rules known)?"""
    return month <= rules["effective_until"]


# ---------------------------------------------------------------- household


def _need(mapping: dict, key: str, where: str):
    if not isinstance(mapping, dict):
        raise HouseholdError(f"{where}: expected an object")
    if key not in mapping or mapping[key] is None:
        raise HouseholdError(f"{where + '.' if where else ''}{key}: missing")
    return mapping[key]


def _choice(mapping: dict, key: str, where: str, allowed: tuple[str, ...]) -> str:
    value = _need(mapping, key, where)
    if value not in allowed:
        raise HouseholdError(f"{where + '.' if where else ''}{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _yen(mapping: dict, key: str, where: str) -> int:
    value = _need(mapping, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise HouseholdError(f"{where}.{key}: expected a whole number of yen ≥ 0, got {value!r}")
    return value


def _date(text, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise HouseholdError(f"{field}: expected a date YYYY-MM-DD, got {text!r}") from None


def _as_of(text) -> dt.date:
    if isinstance(text, str) and len(text) == 7:
        text += "-01"
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise HouseholdError(f"as_of: expected YYYY-MM-DD or YYYY-MM, got {text!r}") from None


def parse_household(household: dict) -> dict:
    """The household of one-stop.md §2, checked and typed; unknown fields are ignored."""
    if not isinstance(household, dict):
        raise HouseholdError("household: expected a JSON object")
    as_of = _as_of(_need(household, "as_of", ""))
    month = as_of.replace(day=1)
    month_end = as_of.replace(day=calendar.monthrange(as_of.year, as_of.month)[1])
    caregiver = _need(household, "caregiver", "")
    children_raw = _need(household, "children", "")
    if not isinstance(children_raw, list) or not children_raw:
        raise HouseholdError("children: expected a list of at least one child")
    children = []
    for i, child in enumerate(children_raw):
        where = f"children[{i}]"
        birth = _date(_need(child, "birth_date", where), f"{where}.birth_date")
        if birth > month_end:
            raise HouseholdError(f"{where}.birth_date: {birth} is after the month asked ({as_of:%Y-%m})")
        children.append({"birth_date": birth, "disability": _choice(child, "disability", where, DISABILITIES)})
    dependants = _need(household, "dependants", "")
    if isinstance(dependants, bool) or not isinstance(dependants, int) or not 0 <= dependants <= 20:
        raise HouseholdError(f"dependants: expected a whole number from 0 to 20, got {dependants!r}")
    income = _need(household, "income", "")
    if not isinstance(income, dict):
        raise HouseholdError("income: expected an object")
    given = [k for k in ("jido_fuyo_shotoku_yen", "salary_income_yen") if income.get(k) is not None]
    if len(given) != 1:
        raise HouseholdError("income: give exactly one of jido_fuyo_shotoku_yen or salary_income_yen")
    parsed_income = {given[0]: _yen(income, given[0], "income")}
    if income.get("child_support_yen") is not None:
        if given[0] != "salary_income_yen":
            raise HouseholdError("income.child_support_yen: only with salary_income_yen "
                                 "(jido_fuyo_shotoku_yen already includes 80 % of it)")
        parsed_income["child_support_yen"] = _yen(income, "child_support_yen", "income")
    studying = _need(household, "studying", "")
    if not isinstance(studying, bool):
        raise HouseholdError(f"studying: expected true or false, got {studying!r}")
    municipality = _need(household, "municipality_code", "")
    if not isinstance(municipality, str) or not is_municipality_code(municipality):
        raise HouseholdError(f"municipality_code: {municipality!r} is not a 6-digit code with a valid check digit")
    return {
        "as_of": as_of, "month": month,
        "relationship": _choice(caregiver, "relationship", "caregiver", RELATIONSHIPS),
        "reason_alone": _choice(caregiver, "reason_alone", "caregiver", REASONS_ALONE),
        "children": children, "dependants": dependants, "income": parsed_income,
        "work": _choice(household, "work", "", WORK), "studying": studying,
        "housing": _choice(household, "housing", "", HOUSING), "municipality_code": municipality,
    }


# ---------------------------------------------------------------- ages


def reach_date(birth: dt.date, years: int) -> dt.date:
    """The day a child reaches ``years``: the day before that birthday (年齢計算ニ関スル法律)."""
    try:
        birthday = birth.replace(year=birth.year + years)
    except ValueError:  # born on 29 February, in a common year
        birthday = dt.date(birth.year + years, 3, 1)
    return birthday - dt.timedelta(days=1)


def age_limit_end(birth: dt.date, limit: dict) -> dt.date:
    """The last day a child is within ``limit`` (``below`` years, ``end`` fiscal_year_end or reach_month)."""
    reached = reach_date(birth, limit["below"])
    if limit["end"] == "fiscal_year_end":
        march_31 = dt.date(reached.year, 3, 31)
        return march_31 if reached <= march_31 else dt.date(reached.year + 1, 3, 31)
    if limit["end"] == "reach_month":
        return reached.replace(day=calendar.monthrange(reached.year, reached.month)[1])
    raise ValueError(f"rules: unknown age limit end {limit['end']!r}")


def _within(child: dict, month: dt.date, rule: dict) -> bool:
    if month <= age_limit_end(child["birth_date"], rule["child_age"]):
        pass
    elif child["disability"] != "none" and "child_age_disabled" in rule \
            and month <= age_limit_end(child["birth_date"], rule["child_age_disabled"]):
        pass
    else:
        return False
    school_from = rule.get("child_age_from")
    return school_from is None or month > age_limit_end(child["birth_date"], {"below": school_from,
                                                                            "end": "fiscal_year_end"})


# ---------------------------------------------------------------- income


def _dec(value) -> Decimal:
    return Decimal(str(value))


def salary_to_income(salary: int, table: list[dict]) -> int:
    """給与所得 of a 給与収入 by the table of the rules (所得税法 別表第五)."""
    for row in table:
        if "below" in row and salary >= row["below"]:
            continue
        if "fixed" in row:
            return row["fixed"]
        base = Decimal(salary)
        if row.get("quarter_floor"):
            base = (base / 4 / 1000).to_integral_value(rounding=ROUND_DOWN) * 1000  # A: ÷4, whole thousands
        value = base * _dec(row["times"]) + row["plus"]
        return max(0, int(value.to_integral_value(rounding=ROUND_DOWN)))
    raise ValueError("rules: the salary table has no open-ended last row")


def jido_fuyo_shotoku(income: dict, rules: dict) -> tuple[int, str]:
    """所得額 for the 児童扶養手当 income test, and how it was reached (Japanese)."""
    if "jido_fuyo_shotoku_yen" in income:
        value = income["jido_fuyo_shotoku_yen"]
        return value, f"所得額{value:,}円（入力どおり）"
    r = rules["income"]
    salary = income["salary_income_yen"]
    salary_income = salary_to_income(salary, r["salary_income"]["table"])
    after_reduction = max(0, salary_income - r["salary_or_pension_reduction"])
    support = income.get("child_support_yen", 0)
    support_part = int((Decimal(support) * _dec(r["child_support_share"])).to_integral_value(rounding=ROUND_DOWN))
    value = max(0, after_reduction + support_part - r["flat_deduction"])
    share = int(_dec(r["child_support_share"]) * 100)
    how = (f"給与収入{salary:,}円の給与所得{salary_income:,}円から{r['salary_or_pension_reduction']:,}円を引き"
           f"{f'、養育費{support:,}円の{share}%（{support_part:,}円）を加え' if support else ''}"
           f"、一律控除{r['flat_deduction']:,}円を引いた所得額{value:,}円。障害者控除・医療費控除などは含めていません"
           f"（あれば所得額が下がります）")
    return value, how


def round_to_ten(amount: Decimal) -> int:
    """10円未満四捨五入: a remainder under 5 yen is dropped, 5 yen and more rounds up (施行令 第2条の4)."""
    return int((amount / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 10


# ---------------------------------------------------------------- programmes


def _answer(programme: str, rule: dict, likely: str, monthly, why: str) -> dict:
    window_checks = f"窓口（{rule['window']}）で確認すること：{rule['checks']}。" if rule.get("checks") else ""
    return {"programme": programme, "likely": likely, "monthly_yen": monthly,
            "why": f"{why}{window_checks}{NEVER_PROMISED}", "bring": list(rule["bring"]),
            "window": rule["window"], "sources": list(rule["sources"])}


def jido_fuyo_amount(shotoku: int, dependants: int, children: int, relationship: str, rule: dict) -> tuple[int, str]:
    """Monthly 児童扶養手当 for ``children`` eligible children, and which band applied (Japanese)."""
    if children == 0:
        return 0, "対象になる年齢の子どもがいません"
    a = rule["amounts"]
    if relationship == "other":
        limit = rule["carer_limit"]["base"] + rule["carer_limit"]["per_dependant"] * dependants
        if shotoku < limit:
            return a["first_full"] + a["further_full"] * (children - 1), \
                f"養育者の所得制限限度額{limit:,}円未満なので全部支給"
        return 0, f"所得額が養育者の所得制限限度額{limit:,}円以上なので支給されません"
    lim = rule["limits"]
    full_limit = lim["full_base"] + lim["per_dependant"] * dependants
    partial_limit = lim["partial_base"] + lim["per_dependant"] * dependants
    if shotoku < full_limit:
        return a["first_full"] + a["further_full"] * (children - 1), \
            f"扶養親族等{dependants}人の全部支給の限度額{full_limit:,}円未満なので全部支給"
    if shotoku < partial_limit:
        excess = Decimal(shotoku - full_limit)
        first = a["first_full"] - (round_to_ten(excess * _dec(a["first_coefficient"])) + 10)
        further = a["further_full"] - (round_to_ten(excess * _dec(a["further_coefficient"])) + 10)
        return first + further * (children - 1), \
            (f"全部支給の限度額{full_limit:,}円以上、一部支給の限度額{partial_limit:,}円未満なので一部支給"
             f"（1人目{first:,}円" + (f"、2人目以降1人{further:,}円" if children > 1 else "") + "）")
    return 0, f"所得額が扶養親族等{dependants}人の一部支給の限度額{partial_limit:,}円以上なので支給されません"


def _jido_fuyo_teate(h: dict, rule: dict, shotoku: int, how: str) -> dict:
    eligible = sum(_within(c, h["month"], rule) for c in h["children"])
    monthly, band = jido_fuyo_amount(shotoku, h["dependants"], eligible, h["relationship"], rule)
    if monthly == 0:
        likely = "no"
    elif h["reason_alone"] in rule["maybe_reasons"]:
        likely = "maybe"
    else:
        likely = "yes"
    why = (f"{h['month'].year}年{h['month'].month}月分として、対象の子ども{eligible}人。{how}。{band}。"
           f"見込み月額{monthly:,}円。公的年金を受けている場合はその分が差し引かれます。")
    return _answer("jido_fuyo_teate", rule, likely, monthly, why)


def _jido_teate(h: dict, rule: dict) -> dict | None:
    counted = sorted((c for c in h["children"] if h["month"] <= age_limit_end(c["birth_date"], rule["count_age"])),
                     key=lambda c: c["birth_date"])
    a = rule["amounts"]
    total, paid = 0, 0
    for rank, child in enumerate(counted, start=1):
        if h["month"] > age_limit_end(child["birth_date"], rule["child_age"]):
            continue
        paid += 1
        if rank >= 3:
            total += a["third_and_later"]
        elif h["month"] <= age_limit_end(child["birth_date"], {"below": 3, "end": "reach_month"}):
            total += a["under_3"]
        else:
            total += a["from_3"]
    if paid == 0:
        return None
    why = (f"高校生年代までの子ども{paid}人に、3歳未満{a['under_3']:,}円・3歳以上{a['from_3']:,}円・"
           f"第3子以降{a['third_and_later']:,}円（22歳年度末までの上の子から数えます）で、見込み月額{total:,}円。"
           f"所得制限はありません。")
    return _answer("jido_teate", rule, "yes", total, why)


def _koto_shokugyo_kunren(h: dict, rule: dict, over_income: bool) -> dict:
    a = rule["amounts"]
    if over_income:
        return _answer("koto_shokugyo_kunren", rule, "no", 0, _OVER_INCOME)
    detail = (f"住民税課税世帯は月{a['taxed_household']:,}円、非課税世帯は月{a['untaxed_household']:,}円、"
              f"修業の最後の12か月は月{a['last_year_addition']:,}円増えます。")
    if h["studying"]:
        return _answer("koto_shokugyo_kunren", rule, rule["when_studying"], a["taxed_household"],
                       f"資格を取るために学校に通っていれば、修業中（上限4年）の生活費として支給されます。{detail}"
                       f"見込み月額は課税世帯の額です。")
    return _answer("koto_shokugyo_kunren", rule, rule["otherwise"], 0,
                   f"今は学校に通っていないので支給はありませんが、看護師・保育士・介護福祉士などの養成校に"
                   f"1年以上通う場合に対象になります。{detail}")


_OVER_INCOME = "所得額が児童扶養手当の一部支給の限度額以上のため、対象外の見込みです。"
_NOT_RENTING = "借家（民間の賃貸住宅）に住んでいる方が対象です。"


def _general(programme: str, h: dict, rule: dict, over_income: bool) -> dict:
    if rule.get("income_test") and over_income:
        return _answer(programme, rule, rule.get("over_income", "no"), None, _OVER_INCOME)
    if "housing" in rule and h["housing"] not in rule["housing"]:
        return _answer(programme, rule, "no", None, _NOT_RENTING)
    if h["studying"] and "when_studying" in rule:
        likely = rule["when_studying"]
    elif h["work"] == "not_working" and "when_not_working" in rule:
        likely = rule["when_not_working"]
    else:
        likely = rule.get("outcome", rule.get("otherwise"))
    return _answer(programme, rule, likely, None, rule["why"])


def navigate(household: dict) -> dict:
    """The answer of one-stop.md §3 for ``household`` (one-stop.md §2)."""
    h = parse_household(household)
    rules = rules_for(h["month"])
    programmes = rules["programmes"]
    shotoku, how = jido_fuyo_shotoku(h["income"], rules)
    jf = programmes["jido_fuyo_teate"]
    over_income = shotoku >= jf["limits"]["partial_base"] + jf["limits"]["per_dependant"] * h["dependants"]
    answers = []
    for programme in PROGRAMMES:
        rule = programmes[programme]
        if programme == "jido_fuyo_teate":
            answers.append(_jido_fuyo_teate(h, rule, shotoku, how))
            continue
        if not any(_within(c, h["month"], rule) for c in h["children"]):
            continue
        if "reasons" in rule and h["reason_alone"] not in rule["reasons"]:
            continue
        calculator = rule.get("calculator")
        if calculator == "jido_teate":
            answer = _jido_teate(h, rule)
        elif calculator == "koto_shokugyo_kunren":
            answer = _koto_shokugyo_kunren(h, rule, over_income)
        else:
            answer = _general(programme, h, rule, over_income)
        if answer is not None:
            answers.append(answer)
    version = rules["version"]
    if not is_confirmed(rules, h["month"]):
        until = rules["effective_until"]
        warning = UNCONFIRMED.format(month=f"{h['month'].year}年{h['month'].month}月",
                                     until=f"{until.year}年{until.month}月", version=version)
        answers = [answer | {"why": warning + answer["why"]} for answer in answers]
        version = f"{version} (unconfirmed for {h['month']:%Y-%m})"
    return {"as_of": h["as_of"].isoformat(), "rules_version": version, "programmes": answers}


def navigate_file(path: str | Path) -> dict:
    """``kodomo navigate --household FILE --json``: the answer for the household in a JSON file."""
    path = Path(path)
    try:
        household = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HouseholdError(f"{path}: household file not found") from None
    except json.JSONDecodeError as error:
        raise HouseholdError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
    return navigate(household)


def rules_in_force(as_of: dt.date) -> dict:
    """For the answer's reader: the rules version used for ``as_of``, its effective dates, and whether its
    figures are confirmed for that month by an official source."""
    month = as_of.replace(day=1)
    rules = rules_for(month)
    return {"version": rules["version"], "effective_from": rules["effective_from"],
            "effective_until": rules["effective_until"], "confirmed": is_confirmed(rules, month)}
