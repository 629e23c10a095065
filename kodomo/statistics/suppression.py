"""Small-cell suppression of the managers' statistics: pure functions over a table of cells.

**Primary suppression.** A cell is withheld when it shows, or rests on, fewer than ``MIN_CELL`` (10) children
(national statistics practice): a count of 1–9, or 1–9 distinct children behind any cell; a rate whose
population (denominator) is under 10, or whose numerator or complement (population − numerator) is 1–9; a
median over fewer than 10. A zero is published: it rests on no child.

**Complementary suppression.** Counts, and a rate's numerator and complement, add up along three kinds of
*additive lines*: the categories of a breakdown sum to its ``total``; the agencies sum to ``all``; the four
quarters of a fiscal year sum to the year. A line with exactly one withheld cell gives that cell away by
subtraction (the total minus the others). So, until no line has exactly one withheld cell, each such line
withholds one more cell: the smallest published cell of the line with a population above zero (a zero is
withheld only when the line has nothing else: withholding a zero hides little), ties broken by the cell's
key. Each step withholds a cell, so it ends. At the end every line holds zero or at least two withheld cells:
no subtraction along a line starts, and so no chain of subtractions reveals a withheld cell (only the sum of
the withheld cells of a line can be known). The ``total`` of a breakdown is the same number under every
breakdown of the table (each row carries it), so it is one cell shared by all the breakdowns' lines.

Medians are not additive: they get primary suppression only.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

import pandas as pd

MIN_CELL = 10
TOTAL, ALL = "total", "all"  # a breakdown's total category; every agency together
NO_BREAKDOWN = "all"  # the breakdown of a table without one (its single category is TOTAL)
COUNT, RATE, MEDIAN = "count", "rate", "median"
KEY = ["table_name", "period", "agency_id", "breakdown", "category", "measure"]


def is_small(n) -> bool:
    """1–9: a number of children or facts that must not be shown (0 may be)."""
    return n is not None and not pd.isna(n) and 1 <= n < MIN_CELL


def primary(kind: str, population: int, numerator: int | None, child_count: int) -> bool:
    """Whether a cell is withheld by itself (see the module's docstring)."""
    if is_small(child_count):
        return True
    if kind == COUNT:
        return is_small(population)
    if kind == RATE:
        return population < MIN_CELL or is_small(numerator) or is_small(population - numerator)
    if kind == MEDIAN:
        return population < MIN_CELL
    raise ValueError(f"measure kind {kind!r}: one of {COUNT}, {RATE}, {MEDIAN}")


def fiscal_year_of(period: str) -> str | None:
    """'2024Q3' -> 'FY2024'; None for a fiscal year itself."""
    return f"FY{period[:4]}" if len(period) == 6 and period[4] == "Q" else None


def cell_id(row) -> tuple:
    """One cell per number: a breakdown's total is the same cell under every breakdown of the table."""
    breakdown = "*" if row.category == TOTAL else row.breakdown
    return row.table_name, row.measure, row.period, row.agency_id, breakdown, row.category


def additive_lines(cell_ids: Iterable[tuple]) -> list[list[tuple]]:
    """The lines along which cells add up: categories to the total, agencies to all, quarters to their year.

    ``cell_ids`` are ``cell_id`` tuples (table, measure, period, agency, breakdown or '*', category) of additive
    cells; each line lists its total first, then its members (a line needs its total and one member at least).
    """
    ids = set(cell_ids)
    by_breakdown: dict[tuple, list[tuple]] = defaultdict(list)
    by_agency: dict[tuple, list[tuple]] = defaultdict(list)
    by_year: dict[tuple, list[tuple]] = defaultdict(list)
    for cell in ids:
        table, measure, period, agency, breakdown, category = cell
        if category != TOTAL:
            by_breakdown[(table, measure, period, agency, breakdown)].append(cell)
        if agency != ALL:
            by_agency[(table, measure, period, breakdown, category)].append(cell)
        year = fiscal_year_of(period)
        if year is not None:
            by_year[(table, measure, year, agency, breakdown, category)].append(cell)
    lines = []
    for (table, measure, period, agency, _), members in by_breakdown.items():
        lines.append(((table, measure, period, agency, "*", TOTAL), members))
    for (table, measure, period, breakdown, category), members in by_agency.items():
        lines.append(((table, measure, period, ALL, breakdown, category), members))
    for (table, measure, year, agency, breakdown, category), members in by_year.items():
        lines.append(((table, measure, year, agency, breakdown, category), members))
    return [[total, *sorted(members)] for total, members in lines if total in ids]


def complementary(sizes: dict[Hashable, float], lines: Sequence[Sequence[Hashable]],
                  withheld: Iterable[Hashable]) -> set:
    """The withheld cells after complementary suppression: ``withheld`` and the cells added so that no line has
    exactly one withheld cell. ``sizes`` gives each cell's population (the smallest is withheld first)."""
    hidden = set(withheld)
    lines_of: dict[Hashable, list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        for cell in line:
            lines_of[cell].append(index)
    hidden_in = [sum(cell in hidden for cell in line) for line in lines]
    pending = [index for index, count in enumerate(hidden_in) if count == 1]
    while pending:
        index = pending.pop()
        if hidden_in[index] != 1:
            continue
        candidates = [cell for cell in lines[index] if cell not in hidden]
        chosen = min(candidates, key=lambda cell: (sizes[cell] <= 0, sizes[cell], cell))
        hidden.add(chosen)
        for other in lines_of[chosen]:
            hidden_in[other] += 1
            if hidden_in[other] == 1:
                pending.append(other)
    return hidden


def suppress(cells: pd.DataFrame) -> pd.Series:
    """Whether each cell is withheld (a boolean Series on ``cells.index``).

    ``cells`` has the columns of ``marts.statistics_cells``: KEY, ``measure_kind``, ``population``,
    ``numerator`` (rates) and ``child_count``.
    """
    if cells.empty:
        return pd.Series(False, index=cells.index, dtype=bool)
    ids = [cell_id(row) for row in cells.itertuples(index=False)]
    first = [primary(row.measure_kind, int(row.population), None if pd.isna(row.numerator) else int(row.numerator),
                     int(row.child_count)) for row in cells.itertuples(index=False)]
    withheld = {cell for cell, small in zip(ids, first, strict=True) if small}
    additive = cells["measure_kind"].isin([COUNT, RATE]).to_list()
    sizes = {cell: float(population) for cell, population, add in zip(ids, cells["population"], additive, strict=True)
             if add}
    hidden = complementary(sizes, additive_lines(sizes), withheld)
    return pd.Series([cell in hidden for cell in ids], index=cells.index, dtype=bool)
