"""Intakes for the caseworker's page: the scored open intakes, one intake's features and its stored score.

Reads ``marts.intake_features``, ``marts.agencies`` and ``ml.intake_scores`` only; never a name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import pandas as pd

from kodomo.appdata.warehouse import table_exists
from ml.store import INTAKE_SCORES

INTAKE_FEATURES = "marts.intake_features"
AGENCIES = "marts.agencies"


def has_scores(con: duckdb.DuckDBPyConnection) -> bool:
    return (all(table_exists(con, t) for t in (INTAKE_SCORES, INTAKE_FEATURES, AGENCIES))
            and con.execute(f"select count(*) from {INTAKE_SCORES}").fetchone()[0] > 0)


def agencies_with_open_intakes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """agency_id and the agency's name, for the agencies that have scored open intakes."""
    return con.execute(f"""
        select distinct s.agency_id, coalesce(a.name, '') as name
        from {INTAKE_SCORES} s left join {AGENCIES} a using (agency_id)
        order by s.agency_id""").df()


def open_intakes(con: duckdb.DuckDBPyConnection, agency_id: str) -> pd.DataFrame:
    """The agency's scored open intakes, newest first: report_id, received_at, age_years (no score: not a queue)."""
    return con.execute(f"""
        select s.report_id, f.received_at, f.age_years
        from {INTAKE_SCORES} s join {INTAKE_FEATURES} f using (agency_id, report_id)
        where s.agency_id = ?
        order by f.received_at desc, s.report_id""", [agency_id]).df()


@dataclass(frozen=True)
class Score:
    risk_score: float
    top_reasons: list[dict]
    model_version: str


def intake(con: duckdb.DuckDBPyConnection, agency_id: str, report_id: str) -> tuple[pd.DataFrame, Score]:
    """One intake's point-in-time features (a one-row frame of ``marts.intake_features``) and its stored score."""
    features = con.execute(f"select * from {INTAKE_FEATURES} where agency_id = ? and report_id = ?",
                           [agency_id, report_id]).df()
    risk_score, reasons, version = con.execute(
        f"select risk_score, top_reasons, model_version from {INTAKE_SCORES} where agency_id = ? and report_id = ?",
        [agency_id, report_id]).fetchone()
    return features, Score(float(risk_score), json.loads(reasons), str(version))


CASE_HISTORY = "marts.case_history"


def work_queue(con: duckdb.DuckDBPyConnection, agency_ids: list[str]) -> pd.DataFrame:
    """The scored open intakes of these agencies, newest first, without a name or the child's key: agency_id,
    report_id, received_at, age_years, risk_score, model_version, safety_confirmed_at (None: not on record)."""
    if not agency_ids:
        return pd.DataFrame(columns=["agency_id", "report_id", "received_at", "age_years", "risk_score",
                                     "model_version", "safety_confirmed_at"])
    return con.execute(f"""
        select s.agency_id, s.report_id, f.received_at, f.age_years, s.risk_score, s.model_version,
               h.safety_confirmed_at
        from {INTAKE_SCORES} s
        join {INTAKE_FEATURES} f using (agency_id, report_id)
        left join {CASE_HISTORY} h using (agency_id, report_id)
        where s.agency_id in (select unnest($agencies))
        order by f.received_at desc, s.agency_id, s.report_id""", {"agencies": list(agency_ids)}).df()


def agencies_of_report(con: duckdb.DuckDBPyConnection, report_id: str) -> list[str]:
    """The agencies with a scored open intake of exactly this report number (usually one)."""
    return [row[0] for row in con.execute(
        f"select agency_id from {INTAKE_SCORES} where report_id = ? order by agency_id", [report_id]).fetchall()]


def safety_confirmed_at(con: duckdb.DuckDBPyConnection, agency_id: str, report_id: str):
    """When the child's safety was confirmed for this report, or None."""
    row = con.execute(f"select safety_confirmed_at from {CASE_HISTORY} where agency_id = ? and report_id = ?",
                      [agency_id, report_id]).fetchone()
    return None if row is None or row[0] is None else row[0]
