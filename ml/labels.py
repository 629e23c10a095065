"""The outcome of source-feeds.md §7, over linked children.

For an intake report R of child C received at t: outcome = 1 when C (linked across all agencies) has
another report received within 365 days after t that is ``substantiated = yes`` or has
``severe_harm = yes``. Days are calendar days: a report on day 365 (the date t + 365) counts, one on
day 366 does not. Only intakes whose window has closed — day 365 lies before the data's end — are
labelled.

Reports are read as known before a moment: the version of each report in force then. The pipeline
knows everything delivered; a backtest knows only what was recorded before its cutoff, so later
corrections (a report substantiated after the cutoff) cannot leak into training.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kodomo.contracts import all_contracts
from ml.people import PERSON_KEYS, Scope, create_person_keys

WINDOW_DAYS = 365


def data_end(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The data's end: the latest delivery date of any valid row of any delivered feed."""
    delivered = [c.feed for c in all_contracts().values() if c.is_folder]
    parts = " union all ".join(f"select max(_delivery_date) as d from valid.{f}_versions" for f in delivered)
    end = con.execute(f"select max(d) from ({parts})").fetchone()[0]
    if end is None:
        raise ValueError("the warehouse has no delivered rows: run the pipeline first")
    return end


def reports_known_sql(known_before: dt.datetime | None) -> str:
    """Each report's version in force before ``known_before`` (latest updated_at, ties: later delivery).

    ``None`` means every delivered version. Rows carry the report's person key.
    """
    known = "true" if known_before is None else f"v.updated_at < timestamp '{pd.Timestamp(known_before)}'"
    return f"""
        select v.*, p.person_key
        from valid.case_reports_versions v
        join {PERSON_KEYS} p using (agency_id, local_child_id)
        where {known}
        qualify row_number() over (partition by v.agency_id, v.report_id
                                   order by v.updated_at desc, v._delivery_date desc, v._seq desc,
                                            v._file desc, v._line desc) = 1"""


def window_closed_sql(received_at: str, before: dt.date) -> str:
    """Whether the 365-day window after ``received_at`` ends before the day ``before``."""
    return f"cast({received_at} as date) + {WINDOW_DAYS} < date '{before.isoformat()}'"


def build_labels(con: duckdb.DuckDBPyConnection, close_before: dt.date | None = None,
                 known_before: dt.datetime | None = None, scope: Scope = "linked") -> pd.DataFrame:
    """One row per intake whose window closed before ``close_before`` (default: the data's end).

    ``known_before`` limits the reports to the versions recorded before it (a backtest's cutoff).
    Columns: agency_id, report_id, person_key, received_at, outcome (0/1).
    """
    close_before = close_before or data_end(con)
    create_person_keys(con, scope)
    sql = f"""
        with reports as ({reports_known_sql(known_before)}),
        intakes as (select * from reports where {window_closed_sql('received_at', close_before)}),
        harmful as (select * from reports where substantiated = 'yes' or severe_harm = 'yes')
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

