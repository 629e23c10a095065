"""CSV cells that a spreadsheet will not run as formulas (OWASP "CSV injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)|cmd``); a single quote in
front makes it text. Only text is changed: numbers stay numbers (a negative number is not a formula, and a
probability is never negative anyway), so a column of scores keeps its type. Every CSV the platform writes
for people to open goes through here.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value`` with a leading quote when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_rows(rows: Iterable[Iterable]) -> Iterator[list]:
    """Rows for ``csv.writer.writerows`` with every text cell made safe."""
    for row in rows:
        yield [safe_cell(v) for v in row]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell made safe (numeric and date columns untouched)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or isinstance(safe[column].dtype, pd.StringDtype):
            safe[column] = safe[column].map(safe_cell)
    return safe
