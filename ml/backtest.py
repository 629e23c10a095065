"""``kodomo backtest``: on a platform built from a landing, train as of a cutoff, score the intakes after it.

Training sees only intakes whose 365-day window closed before the cutoff, labelled from the report
versions recorded before the cutoff; features are always as of each intake's own receipt. Every intake
received on or after the cutoff is scored with the calibrated probability of the §7 outcome.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.csv_safe import safe_frame
from ml.features import design_matrix, read_features
from ml.labels import build_labels
from ml.pipeline import NotEnoughData, fit_risk_model, labelled, split_labelled

OUTPUT_COLUMNS = ["agency_id", "report_id", "risk_score"]


@dataclass(frozen=True)
class BacktestResult:
    trained_on: int  # labelled intakes (train + calibration slice)
    positives: int
    scored: int
    out: Path


def train_and_score(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> tuple[pd.DataFrame, int, int]:
    """Scores of the intakes received on or after ``cutoff`` by a model that knows only what came before."""
    known_before = dt.datetime.combine(cutoff, dt.time())
    labels = build_labels(con, close_before=cutoff, known_before=known_before)
    features = read_features(con)
    frame = labelled(features, labels)
    try:
        split = split_labelled(frame, valid_fraction=0.2, test_fraction=0.0)
    except NotEnoughData as exc:
        raise NotEnoughData(f"cannot train before {cutoff} ({exc}): choose a later cutoff") from None
    model, _ = fit_risk_model(frame, split.assign(frame["received_at"]))
    after = features[pd.to_datetime(features["received_at"]) >= pd.Timestamp(cutoff)].reset_index(drop=True)
    scores = after[["agency_id", "report_id"]].assign(risk_score=model.predict_proba(design_matrix(after))[:, 1])
    return scores, len(frame), int(frame["outcome"].sum())


def run_backtest(warehouse: Path, cutoff: dt.date, out: Path,
                 progress: Callable[[str], None] = lambda _: None) -> BacktestResult:
    """Train before ``cutoff`` on a built warehouse (``orchestration.runner.build_platform``), write the CSV."""
    progress(f"backtest: training on intakes whose window closed before {cutoff}")
    with duckdb.connect(str(warehouse)) as con:
        scores, trained_on, positives = train_and_score(con, cutoff)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    safe_frame(scores[OUTPUT_COLUMNS]).to_csv(out, index=False, float_format="%.6f")
    progress(f"backtest: trained on {trained_on} intakes ({positives} with the outcome); "
             f"scored {len(scores)} intakes received from {cutoff} into {out}")
    return BacktestResult(trained_on, positives, len(scores), out)
