"""The outcome of source-feeds.md §7, over linked children, from the dbt layer.

For an intake report R of child C received at t: outcome = 1 when C (linked across all agencies) has
another report received within 365 days after t that is ``substantiated = yes`` or has
``severe_harm = yes``. Days are calendar days: a report on day 365 (the date t + 365) counts, one on
day 366 does not. Only intakes whose window has closed — day 365 lies before the data's end — are
labelled.

Reports are read as known before a moment: the version of each report current then, from
``intermediate.int_case_report_versions_linked`` (``valid_from`` / ``valid_to`` of int_case_report_versions,
where the versioning rule lives, with the linked child's person key).
The pipeline knows everything delivered; a backtest knows only what was recorded before its cutoff, so
later corrections (a report substantiated after the cutoff) cannot leak into training.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

WINDOW_DAYS = 365
REPORT_VERSIONS = "intermediate.int_case_report_versions_linked"
DATA_EXTENT = "intermediate.int_data_extent"


def data_end(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The data's end: the latest delivery date of any feed (``int_data_extent.data_ends_on``)."""
    end = con.execute(f"select max(data_ends_on) from {DATA_EXTENT}").fetchall()[0][0]
    if end is None:
        raise ValueError("the warehouse has no delivered rows: run the pipeline first")
    return end


def reports_known_sql(known_before: dt.datetime | None) -> str:
    """Each report's version current just before ``known_before`` (``None``: its latest), with its person key."""
    if known_before is None:
        current = "v.is_latest_version"
    else:
        moment = f"timestamp '{pd.Timestamp(known_before)}'"
        current = f"v.valid_from < {moment} and (v.valid_to is null or v.valid_to >= {moment})"
    return f"""
        select * from {REPORT_VERSIONS} v where {current}"""


def window_closed_sql(received_at: str, before: dt.date) -> str:
    """Whether the 365-day window after ``received_at`` ends before the day ``before``."""
    return f"cast({received_at} as date) + {WINDOW_DAYS} < date '{before.isoformat()}'"


def build_labels(con: duckdb.DuckDBPyConnection, close_before: dt.date | None = None,
                 known_before: dt.datetime | None = None) -> pd.DataFrame:
    """One row per intake whose window closed before ``close_before`` (default: the data's end).

    ``known_before`` limits the reports to the versions recorded before it (a backtest's cutoff).
    Columns: agency_id, report_id, person_key, received_at, outcome (0/1).
    """
    close_before = close_before or data_end(con)
    sql = f"""
        with reports as ({reports_known_sql(known_before)}),
        intakes as (select * from reports where {window_closed_sql('received_at', close_before)}),
        harmful as (select * from reports where substantiation = 'yes' or is_severe_harm)
        select i.agency_id, i.report_id, i.person_key, i.received_at,
               cast(count(h.report_id) > 0 as integer) as outcome
        from intakes i
        left join harmful h
          on h.person_key = i.person_key
         and not (h.agency_id = i.agency_id and h.report_id = i.report_id)
         and h.received_at >= i.received_at
         and cast(h.received_at as date) <= cast(i.received_at as date) + {WINDOW_DAYS}
        group by all
        order by i.received_at, i.agency_id, i.report_id"""
    return con.execute(sql).df()
