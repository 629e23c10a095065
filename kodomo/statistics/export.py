"""``kodomo export-stats --out DIR``: exactly what managers see, as ``DIR/statistics.csv`` (command-line spec)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TextIO

import pandas as pd

from kodomo.appdata.warehouse import read_only
from kodomo.csv_safe import safe_rows
from kodomo.settings import Settings
from kodomo.statistics.publish import COLUMNS, published_statistics

FILE_NAME = "statistics.csv"


def _cell(column: str, value) -> str:
    if column == "suppressed":
        return "true" if value else "false"
    if column == "value":
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def write_statistics(published: pd.DataFrame, out: TextIO) -> None:
    """The published table as the spec's CSV (an empty value where a cell is withheld), to a text stream opened
    with ``newline=""`` (the app's download and the export file alike)."""
    rows = ([_cell(column, value) for column, value in zip(COLUMNS, row, strict=True)]
            for row in published[COLUMNS].itertuples(index=False))
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(safe_rows(rows))


def export_stats(settings: Settings, out_dir: Path) -> Path:
    """Write the published statistics of the published warehouse to ``out_dir/statistics.csv``; its path."""
    out_dir = Path(out_dir)
    with read_only(settings.warehouse_path) as con:
        published = published_statistics(con)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    partial = path.with_name(f".{FILE_NAME}.partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        write_statistics(published, out)
    partial.replace(path)  # nothing half-written under the final name
    return path
