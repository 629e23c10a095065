"""Semantic row values -> the text each agency writes: its date style, digits, code case, names."""
from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from kodomo.contracts import PERSON_COLUMNS, Column, Contract
from kodomo.parsing.dates import format_era
from kodomo.synthetic.clock import MINUTES_PER_DAY, date_of
from kodomo.synthetic.habits import Habits
from kodomo.synthetic.people import People
from kodomo.synthetic.population import World

FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
_ERA_STYLES = {"era_kanji": "kanji", "era_letter": "letter", "era_letter0": "letter0"}
# Decimal places each measurement is written with.
DECIMALS = {"height_cm": 1, "weight_kg": 2, "head_circumference_cm": 1}


@cache
def format_day(day: int, habits: Habits) -> str:
    d = date_of(day)
    style = habits.date_style
    if style in _ERA_STYLES:
        text = format_era(d, _ERA_STYLES[style])
    elif style == "slash":
        text = f"{d.year}/{d.month}/{d.day}"
    elif style == "slash0":
        text = f"{d.year}/{d.month:02d}/{d.day:02d}"
    else:
        text = d.isoformat()
    return text.translate(FULLWIDTH_DIGITS) if habits.fullwidth_digits else text


def format_time(minute_of_day: int, habits: Habits) -> str:
    text = f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}" + (":00" if habits.seconds else "")
    return text.translate(FULLWIDTH_DIGITS) if habits.fullwidth_digits else text


def format_number(value: float, column: str, integer: bool, habits: Habits) -> str:
    text = str(int(value)) if integer else f"{value:.{DECIMALS[column]}f}"
    return text.translate(FULLWIDTH_DIGITS) if habits.fullwidth_digits else text


def style_code(code: str, habits: Habits, separator: str | None = None) -> str:
    if habits.code_case == "upper":
        return code.upper()
    if habits.code_case == "title":
        return code.title()
    if habits.code_case == "spaced" and separator:
        return f" {code.replace(separator, separator + ' ')}"
    if habits.code_case == "spaced":
        return f" {code} "
    return code


def _mapped(values: np.ndarray, fn) -> np.ndarray:
    """Apply ``fn`` once per distinct present value (NaN / '' stay empty)."""
    out = np.full(len(values), "", dtype=object)
    present = ~np.isnan(values) if values.dtype.kind == "f" else values != ""
    keys = values[present]
    if not present.any():
        return out
    inverse, distinct = pd.factorize(keys)
    out[present] = np.array([fn(v) for v in distinct], dtype=object)[inverse]
    return out


def _days(values: np.ndarray, habits: Habits) -> np.ndarray:
    return _mapped(values, lambda v: format_day(int(v), habits))


def _minutes(values: np.ndarray, habits: Habits) -> np.ndarray:
    present = ~np.isnan(values)
    out = np.full(len(values), "", dtype=object)
    minute = values[present].astype(np.int64)
    dates = _days((minute // MINUTES_PER_DAY).astype(float), habits)
    out[present] = dates + _times_of_day(habits)[minute % MINUTES_PER_DAY]
    return out


@cache
def _times_of_day(habits: Habits) -> np.ndarray:
    """" HH:MM" (or " HH:MM:SS") for every minute of the day, as the agency writes it."""
    return np.array([" " + format_time(m, habits) for m in range(MINUTES_PER_DAY)], dtype=object)


def render_feed(contract: Contract, rows: pd.DataFrame, people: People | None, world: World,
                habits: list[Habits]) -> dict[str, np.ndarray]:
    """One array of text per contract column, row for row with ``rows``; person fields come from ``people``.

    Plain object arrays, not a DataFrame: equal cells (a date, a code, a child's name) stay one string
    object, where pandas would store every cell anew.
    """
    out = {c.name: np.full(len(rows), "", dtype=object) for c in contract.columns}
    agency = rows["_agency"].to_numpy()
    if people is not None:
        pair, epoch = people.lookup(agency, rows["_child"].to_numpy(), rows["_updated"].to_numpy(), world)
    for a in np.unique(agency):
        h = habits[a]
        mine = np.flatnonzero(agency == a)
        part = rows.iloc[mine]
        for column in contract.columns:
            if people is not None and column.name in PERSON_COLUMNS:
                cells = _person_column(column.name, people, pair[mine], epoch[mine], h)
            elif column.name == "agency_id":
                cells = np.repeat(np.array([world.geography.agencies[a].agency_id], dtype=object), len(mine))
            else:
                source = "_updated" if column.name == "updated_at" else column.name
                cells = _render_values(column, part[source].to_numpy(), h)
            out[column.name][mine] = cells
    return out


def _render_values(column: Column, values: np.ndarray, h: Habits) -> np.ndarray:
    if column.type == "date":
        return _days(values.astype(float), h)
    if column.type == "datetime":
        return _minutes(values.astype(float), h)
    if column.type in ("integer", "decimal"):
        integer = column.type == "integer"
        return _mapped(values.astype(float), lambda v: format_number(v, column.name, integer, h))
    if column.type in ("code", "code_set"):
        return _mapped(values.astype(object), lambda v: style_code(v, h, column.separator))
    return values.astype(object)


def _person_column(name: str, people: People, pair: np.ndarray, epoch: np.ndarray, h: Habits) -> np.ndarray:
    if name == "child_name":
        return people.name[pair, epoch]
    if name == "child_kana":
        return people.kana[pair, epoch]
    if name == "birth_date":
        return _days(people.pairs["birth"].to_numpy()[pair].astype(float), h)
    return people.pairs[name].to_numpy()[pair]  # local_child_id, sex
