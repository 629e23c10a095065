"""The managers' statistics as published: ``marts.statistics_cells`` with small cells withheld.

The one function that turns the mart into what anyone sees or downloads (the app's read layer and
``kodomo export-stats`` both call ``published_statistics``): the long table of the command-line spec,
``table,period,agency_id,breakdown,category,measure,value,suppressed``. Counts are completed with zeros over
the periods, agencies and categories their table knows (a zero is published, and the additive lines need it);
a withheld cell keeps its row with an empty value.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from kodomo.appdata.warehouse import WarehouseUnavailable, table_exists
from kodomo.statistics.suppression import ALL, COUNT, KEY, MEDIAN, RATE, suppress

STATISTICS_CELLS = "marts.statistics_cells"
COLUMNS = ["table", "period", "agency_id", "breakdown", "category", "measure", "value", "suppressed"]
RATE_DECIMALS = 4  # a share to 0.01 percentage points
MEDIAN_DECIMALS = 1


def read_cells(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The mart's cells (before suppression): never leaves this package."""
    if not table_exists(con, STATISTICS_CELLS):
        raise WarehouseUnavailable(f"the warehouse has no {STATISTICS_CELLS}: run `kodomo run` to build it")
    return con.execute(f"""
        select table_name, period, agency_id, breakdown, category, measure, measure_kind, population, numerator,
            child_count, value
        from {STATISTICS_CELLS}""").df()


def with_zero_counts(cells: pd.DataFrame) -> pd.DataFrame:
    """Count cells completed with zeros: within each table, breakdown, period grain and level (an agency, or
    all), every category seen there under every period and agency seen there."""
    counts = cells[cells["measure_kind"] == COUNT]
    completed = []
    groups = [counts["table_name"], counts["measure"], counts["breakdown"], counts["period"].str.startswith("FY"),
              counts["agency_id"] == ALL]
    for _, group in counts.groupby(groups, sort=True):
        grid = pd.MultiIndex.from_product(
            [sorted(group["period"].unique()), sorted(group["agency_id"].unique()),
             sorted(group["category"].unique())], names=["period", "agency_id", "category"])
        full = group.set_index(["period", "agency_id", "category"]).reindex(grid).reset_index()
        for column in ("table_name", "measure", "breakdown", "measure_kind"):
            full[column] = group[column].iloc[0]
        full[["population", "child_count", "value"]] = full[["population", "child_count", "value"]].fillna(0)
        completed.append(full)
    return pd.concat([cells[cells["measure_kind"] != COUNT], *completed], ignore_index=True)


def _shown(kind: str, value: float) -> float:
    if kind == RATE:
        return round(value, RATE_DECIMALS)
    if kind == MEDIAN:
        return round(value, MEDIAN_DECIMALS)
    return value


def publish(cells: pd.DataFrame) -> pd.DataFrame:
    """The published long table of ``cells`` (the mart's columns): withheld cells have value NaN."""
    cells = with_zero_counts(cells).reset_index(drop=True)
    withheld = suppress(cells)
    values = [None if hidden else _shown(kind, value)
              for kind, value, hidden in zip(cells["measure_kind"], cells["value"], withheld, strict=True)]
    published = cells[KEY].rename(columns={"table_name": "table"})
    published["value"] = pd.array(values, dtype="Float64").astype(float)
    published["suppressed"] = withheld.to_numpy()
    return published[COLUMNS].sort_values(COLUMNS[:6], ignore_index=True)


def published_statistics(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What managers see and download, from the warehouse."""
    return publish(read_cells(con))
