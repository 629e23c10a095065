"""Batch scoring of open intakes by the champion: probability and top reasons, stored for the app."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import pandas as pd

from ml.features import design_matrix, feature_values
from ml.labels import WINDOW_DAYS
from ml.model import RiskModel
from ml.store import INTAKE_SCORES, write_table

SCORE_COLUMNS = ["agency_id", "report_id", "person_key", "risk_score", "top_reasons", "model_version", "scored_at"]


def open_intakes(features: pd.DataFrame, data_end: dt.date) -> pd.DataFrame:
    """Intakes whose outcome window has not closed: the ones a worker may still act on."""
    last_day = pd.to_datetime(features["received_at"]).dt.floor("D") + pd.Timedelta(days=WINDOW_DAYS)
    return features[last_day >= pd.Timestamp(data_end)].reset_index(drop=True)


def score_intakes(model: RiskModel, features: pd.DataFrame) -> pd.DataFrame:
    """agency_id, report_id, person_key, risk_score (calibrated probability), top_reasons (JSON)."""
    probability, reasons = model.explain(design_matrix(features), feature_values(features))
    return pd.DataFrame({
        "agency_id": features["agency_id"].to_numpy(), "report_id": features["report_id"].to_numpy(),
        "person_key": features["person_key"].to_numpy(), "risk_score": probability,
        "top_reasons": [json.dumps(r, ensure_ascii=False) for r in reasons],
    })


def write_scores(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame, model_version: str,
                 scored_at: dt.datetime) -> None:
    """Replace ``ml.intake_scores`` with this batch (one row per open intake)."""
    frame = scores.assign(model_version=model_version, scored_at=pd.Timestamp(scored_at))[SCORE_COLUMNS]
    write_table(con, INTAKE_SCORES, frame)
    con.execute(f"alter table {INTAKE_SCORES} alter top_reasons type json")
