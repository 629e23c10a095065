"""From row versions to delivered rows: each agency exports, on each delivery date, the current state
of every record that changed since its previous delivery. Agency-local ids are given here."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kodomo.synthetic.clock import DATA_END, MINUTES_PER_DAY, date_of, quarter_ends
from kodomo.synthetic.geography import Geography
from kodomo.synthetic.habits import Habits


def delivery_days(habits: list[Habits], rng: np.random.Generator) -> np.ndarray:
    """[agency, k] delivery day of the k-th quarterly extract; the final extract is DATA_END for all."""
    ends = quarter_ends()
    jitter = rng.integers(-3, 4, size=(len(habits), len(ends)))
    offsets = np.array([h.delivery_offset for h in habits])[:, None] + jitter
    days = ends[None, :] + offsets
    days[:, -1] = DATA_END
    return days


def emit(versions: pd.DataFrame, deliveries: np.ndarray) -> pd.DataFrame:
    """The rows actually delivered: per entity and delivery, the latest version on or before that date."""
    day = (versions["_updated"].to_numpy() // MINUTES_PER_DAY).astype(np.int64)
    agency = versions["_agency"].to_numpy()
    index = np.empty(len(versions), dtype=np.int64)
    for a in np.unique(agency):
        mine = agency == a
        index[mine] = np.searchsorted(deliveries[a], day[mine], side="left")
    out = versions.assign(_delivery=index)
    out = out[out["_delivery"] < deliveries.shape[1]]
    out = out.sort_values(["_entity", "_delivery", "_updated"], kind="stable")
    out = out.drop_duplicates(["_entity", "_delivery"], keep="last")
    return out.sort_values(["_agency", "_delivery", "_updated", "_entity"], kind="stable").reset_index(drop=True)


# --- agency-local ids -------------------------------------------------------------------------------
def _fiscal_year(minute: np.ndarray) -> np.ndarray:
    days = (np.asarray(minute) // MINUTES_PER_DAY).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64)
    return 1970 + (months - 3) // 12


_ID_FORMATS = {
    # feed column -> one format per local id scheme: (prefix pattern, width)
    "report_id": ("{fy}{n:05d}", "R-{n:06d}", "{fy}-{n:04d}", "TS{n:06d}", "R{fy}{n:05d}"),
    "assessment_id": ("A{n:07d}", "AS-{n:06d}", "{fy}-A{n:04d}", "RA{n:06d}", "A{fy}{n:05d}"),
    "move_id": ("{fy}{n:06d}", "M-{n:06d}", "{fy}-T{n:05d}", "MV{n:07d}", "I{fy}{n:05d}"),
    "alert_id": ("AL{n:05d}", "ALT-{n:05d}", "{fy}-K{n:03d}", "N{n:06d}", "AL{fy}{n:04d}"),
}


def entity_ids(column: str, agency: np.ndarray, first_minute: np.ndarray, habits: list[Habits],
               rng: np.random.Generator) -> np.ndarray:
    """An id per entity, numbered per agency (and fiscal year where the format says so) in time order."""
    fy = _fiscal_year(first_minute)
    order = np.lexsort((first_minute, agency))
    ids = np.empty(len(agency), dtype=object)
    counters: dict[tuple[int, int], int] = {}
    starts = rng.integers(1, 500, size=len(habits))
    for i in order:
        a = int(agency[i])
        pattern = _ID_FORMATS[column][habits[a].local_id_scheme]
        key = (a, int(fy[i]) if "{fy}" in pattern else 0)
        n = counters.get(key, int(starts[a])) + 1
        counters[key] = n
        ids[i] = pattern.format(fy=int(fy[i]), n=n)
    return ids


_LOCAL_CHILD_ID = ("{n:08d}", "K{n:06d}", "{place}-{n:05d}", "JD{n:07d}", "S{n:07d}")


def local_child_ids(pair_agency: np.ndarray, first_minute: np.ndarray, geography: Geography, habits: list[Habits],
                    rng: np.random.Generator) -> np.ndarray:
    """Each agency's own id for each child it knows, numbered in the order it first met them."""
    order = np.lexsort((first_minute, pair_agency))
    ids = np.empty(len(pair_agency), dtype=object)
    next_number = rng.integers(1000, 90000, size=len(habits))
    for i in order:
        a = int(pair_agency[i])
        next_number[a] += 1 + (rng.random() < 0.1)  # numbers of people not in these feeds leave gaps
        place = geography.agencies[a].agency_id[2:5]
        ids[i] = _LOCAL_CHILD_ID[habits[a].local_id_scheme].format(n=int(next_number[a]), place=place)
    return ids


def delivery_label(day: int) -> str:
    return date_of(day).strftime("%Y%m%d")


def assign_ids(rows: dict[str, pd.DataFrame], intakes: pd.DataFrame, habits: list[Habits],
               rng: np.random.Generator) -> None:
    """Fill the id columns: report and assessment ids (an assessment names its report), move and alert ids."""
    report_ids = pd.Series(entity_ids("report_id", intakes["_agency"].to_numpy(), intakes["received"].to_numpy(),
                                      habits, rng), index=intakes["_entity"].to_numpy())
    rows["case_reports"]["report_id"] = report_ids.reindex(rows["case_reports"]["_entity"]).to_numpy()
    rows["assessments"]["report_id"] = report_ids.reindex(rows["assessments"]["_report"]).to_numpy()
    rows["assessments"]["assessor_id"] = [f"W{a:03d}" for a in rows["assessments"]["_assessor"]]
    for feed, column in (("assessments", "assessment_id"), ("resident_moves", "move_id"), ("alerts", "alert_id")):
        table = rows[feed]
        first = table.groupby("_entity")[["_agency", "_updated"]].min()
        ids = pd.Series(entity_ids(column, first["_agency"].to_numpy(), first["_updated"].to_numpy(), habits, rng),
                        index=first.index)
        table[column] = ids.reindex(table["_entity"]).to_numpy()


# A child guidance centre handles cases; health and registry feeds come from municipalities only.
_CGC_FEEDS = ("case_reports", "assessments", "alerts")


def delivers(agency_type: str, feed: str) -> bool:
    return agency_type == "municipality" or feed in _CGC_FEEDS
