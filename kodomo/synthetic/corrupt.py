"""Invalid rows: each corrupted copy of a valid row breaks exactly one rule of ``row_rules()``.

Every corruption is built so that no earlier rule in the reporting order fires and no other rule
fires at all (a date pushed into the future stays after the birth date, a code flipped to trigger a
conditional requirement is a valid code…). Dates meant to be invalid are checked against the
platform's own parsers, so "invalid" means what ingestion will think.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from kodomo.contracts import Column, Contract, row_rules
from kodomo.parsing.dates import DateError, parse_date, parse_datetime
from kodomo.synthetic.clock import MINUTES_PER_DAY, day_of
from kodomo.synthetic.habits import Habits
from kodomo.synthetic.render import FULLWIDTH_DIGITS, format_day, format_number, format_time, style_code

INVALID_SHARE = 0.007
CORRECTED_SHARE = 0.4
_WRONG_CODES = ("不明", "あり", "なし", "○", "済", "?", "N/A", "その他(記載)")
_WRONG_CODES_BY_COLUMN = {
    "sex": ("男", "女", "M", "F", "0"), "route": ("警察", "近隣", "polic", "学校から"),
    "abuse_types": ("身体的虐待", "physical;emotional", "ネグレクト", "psychologic"),
    "substantiated": ("調査中", "pending", "確認中"), "injury_severity": ("重度", "軽度", "mild", "high"),
    "child_disclosure": ("あり", "severe", "重大"), "worker_decision": ("保護", "在宅指導", "protection"),
    "checkup_type": ("4m", "1y6m", "3y", "m36", "３歳児"), "status": ("受診", "未受診", "absent"),
    "result": ("異常なし", "要観察", "ok"), "vaccine": ("MMR", "4種混合", "dpt", "hib2", "日本脳炎"),
    "move_type": ("転入", "転出", "transfer"), "alert_type": ("転居", "行方不明", "lost"),
}
_WRONG_NUMBERS = ("不明", "約{v}", "{v}cm", "{v},5", "--", "{v}.5.1")
_BAD_DATES = {
    "iso": ("{y}-02-30", "{y}-13-01", "{y}-04-31", "{y}.04.01"),
    "slash": ("{y}/2/30", "{y}/13/1", "{y}/4/31", "{y}年4月1日"),
    "slash0": ("{y}/02/30", "{y}/13/01", "{y}/06/31"),
    "era_kanji": ("令和0年5月1日", "令和元年4月30日", "平成31年5月1日", "令和3年2月29日", "令和4年13月1日"),
    "era_letter": ("H31.5.1", "R0.4.1", "R3.2.29", "R1.4.30", "H32.1.1"),
    "era_letter0": ("H31.05.01", "R03.02.29", "R00.04.01", "R01.04.30"),
}
_BAD_TIMES = ("25:00", "12:75", "24:30")


class Corrupter:
    """Turns chosen rows of one feed into invalid rows, one rule each, in rotation over the rules."""

    def __init__(self, contract: Contract, habits: list[Habits], agency_ids: list[str], outside_codes: list[str],
                 rng: np.random.Generator):
        self.contract, self.habits, self.rng = contract, habits, rng
        self.agency_ids, self.outside_codes = agency_ids, outside_codes
        self.rules = [r for r in row_rules() if self._applies(r)]

    # --- which rules a feed can break -------------------------------------------------------------
    def _columns(self, *types: str) -> list[Column]:
        return [c for c in self.contract.columns if c.type in types]

    def _events(self) -> list[Column]:
        return [c for c in self._columns("date", "datetime") if not c.birth_date and c.name != "updated_at"]

    def _applies(self, rule: str) -> bool:
        return {
            "invalid_code": bool(self._columns("code", "code_set")),
            "invalid_municipality_code": bool(self._columns("municipality_code")),
            "invalid_number": bool(self._columns("integer", "decimal")),
            "before_birth": self.contract.person and bool(self._events()),
            "out_of_range": any(c.min is not None for c in self._columns("integer", "decimal")),
            "conditional_required": bool(self.contract.rules),
        }.get(rule, True)

    # --- corrupt rows -----------------------------------------------------------------------------
    def corrupt(self, text: dict[str, np.ndarray], agency: np.ndarray, birth: np.ndarray, delivery: np.ndarray,
                n_invalid: int) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
        """Corrupt ``n_invalid`` rows of ``text`` (column -> cells) in place, rules in rotation.

        Returns the rows, the rule each now breaks, and their cells as they were (column -> cells).
        """
        rows, rules, before = [], [], []
        used: set[int] = set()
        for k in range(min(n_invalid, len(agency))):
            rule = self.rules[k % len(self.rules)]
            row = self._free_row(self._pool(rule, k // len(self.rules), agency), used, len(agency))
            cells = {c: text[c][row] for c in self.contract.column_names}
            before.append(dict(cells))
            _CORRUPTIONS[rule](self, cells, self.habits[agency[row]], int(birth[row]), int(delivery[row]))
            for c, value in cells.items():
                text[c][row] = value
            rows.append(row)
            rules.append(rule)
        originals = {c: np.array([b[c] for b in before], dtype=object) for c in self.contract.column_names}
        return np.array(rows, dtype=np.int64), rules, originals

    def _pool(self, rule: str, round_: int, agency: np.ndarray) -> np.ndarray | None:
        """Rows a rule prefers: the first two event dates before birth go to agencies writing 和暦, so
        that the 昭和 forms (S63.12.31, 昭和…) of a caregiver's birth date typed by mistake occur."""
        if rule != "before_birth" or round_ > 1:
            return None
        style = ("era_letter", "era_letter0") if round_ == 0 else ("era_kanji",)
        agencies = [a for a, h in enumerate(self.habits) if h.date_style in style]
        pool = np.flatnonzero(np.isin(agency, agencies))
        return pool if pool.size else None

    def _free_row(self, pool: np.ndarray | None, used: set[int], n: int) -> int:
        for _ in range(100):
            row = int(pool[self.rng.integers(pool.size)]) if pool is not None else int(self.rng.integers(n))
            if row not in used:
                used.add(row)
                return row
        return self._free_row(None, used, n)

    def _pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def _malformed(self, cells, h, birth, delivery) -> str:
        return ""  # the writer gives the row one field too many

    def _required_missing(self, cells, h, birth, delivery) -> str:
        column = self._pick(self.contract.required_columns)
        cells[column] = self._pick(("", "", " ", "\u3000"))
        return column

    def _invalid_code(self, cells, h, birth, delivery) -> str:
        column = self._pick(self._columns("code", "code_set")).name
        cells[column] = self._pick(_WRONG_CODES_BY_COLUMN.get(column, _WRONG_CODES))
        return column

    def _invalid_municipality_code(self, cells, h, birth, delivery) -> str:
        column = self._pick(self._columns("municipality_code")).name
        code = cells[column]
        cells[column] = self._pick((
            code[:5] + str((int(code[5]) + int(self.rng.integers(1, 10))) % 10),  # wrong check digit
            code[:5],  # the 5-digit code without its check digit
            code + "0",
        ))
        return column

    def _invalid_agency_id(self, cells, h, birth, delivery) -> str:
        to_destination = "destination_agency_id" in cells and self.rng.random() < 0.5
        column = "destination_agency_id" if to_destination else "agency_id"
        own = cells["agency_id"]
        # A real municipality that is no agency of agencies.csv, a centre that does not exist, or a
        # municipality code typed without its check digit.
        unknown = self._pick((self._pick(self.outside_codes), own[:3] + "99" if own.startswith("C") else own[:5]))
        assert unknown not in self.agency_ids
        cells[column] = unknown
        return column

    def _invalid_date(self, cells, h, birth, delivery) -> str:
        column = self._pick(self._columns("date", "datetime"))
        year = 2019 + int(self.rng.integers(0, 6))
        for _ in range(20):
            text = self._pick(_BAD_DATES[h.date_style]).format(y=year)
            if column.type == "datetime":
                if self.rng.random() < 0.3:
                    text = format_day(delivery - int(self.rng.integers(1, 60)), h) + " " + self._pick(_BAD_TIMES)
                else:
                    text += " " + format_time(int(self.rng.integers(0, MINUTES_PER_DAY)), h)
            if h.fullwidth_digits:
                text = text.translate(FULLWIDTH_DIGITS)
            if not _parses(text, column.type):
                cells[column.name] = text
                return column.name
        raise AssertionError(f"no invalid date found for style {h.date_style}")

    def _invalid_number(self, cells, h, birth, delivery) -> str:
        column = self._pick(self._columns("integer", "decimal"))
        value = int(column.min or 1) + int(self.rng.integers(0, 3))
        cells[column.name] = self._pick(_WRONG_NUMBERS).format(v=value)
        return column.name

    def _future_date(self, cells, h, birth, delivery) -> str:
        candidates = [c for c in self._columns("date", "datetime")
                      if not c.future_ok and not c.birth_date and cells[c.name] != ""]
        column = self._pick(candidates)
        cells[column.name] = self._when(column, delivery + int(self.rng.integers(1, 61)), h)
        return column.name

    def _before_birth(self, cells, h, birth, delivery) -> str:
        column = self._pick([c for c in self._events() if cells[c.name] != ""])
        if self.rng.random() < 0.7:
            # A caregiver's own birth date (昭和) typed into the event field.
            day = day_of(dt.date(1970, 1, 1)) + int(self.rng.integers(0, 18 * 365))
        else:
            day = birth - int(self.rng.integers(1, 200))
        cells[column.name] = self._when(column, day, h)
        return column.name

    def _out_of_range(self, cells, h, birth, delivery) -> str:
        column = self._pick([c for c in self._columns("integer", "decimal") if c.min is not None])
        integer = column.type == "integer"
        too_small = column.min - (1 if integer else column.min * 0.6)
        too_big = column.max + (1 if integer else column.max * 0.9)
        value = self._pick((too_small, too_big))
        cells[column.name] = format_number(value, column.name, integer, h)
        return column.name

    def _conditional_required(self, cells, h, birth, delivery) -> str:
        rule = self._pick(self.contract.rules)
        for name, code in rule.when.items():
            cells[name] = style_code(code, h)
        cells[rule.required] = ""
        return rule.required

    def _when(self, column: Column, day: int, h: Habits) -> str:
        text = format_day(day, h)
        if column.type == "datetime":
            text += " " + format_time(int(self.rng.integers(0, MINUTES_PER_DAY)), h)
        return text


def _parses(text: str, kind: str) -> bool:
    try:
        (parse_datetime if kind == "datetime" else parse_date)(text)
    except DateError:
        return False
    return True


_CORRUPTIONS: dict[str, Callable] = {
    "malformed_row": Corrupter._malformed,
    "required_missing": Corrupter._required_missing,
    "invalid_code": Corrupter._invalid_code,
    "invalid_municipality_code": Corrupter._invalid_municipality_code,
    "invalid_agency_id": Corrupter._invalid_agency_id,
    "invalid_date": Corrupter._invalid_date,
    "invalid_number": Corrupter._invalid_number,
    "future_date": Corrupter._future_date,
    "before_birth": Corrupter._before_birth,
    "out_of_range": Corrupter._out_of_range,
    "conditional_required": Corrupter._conditional_required,
}
