"""Recalibration of the champion on the latest closed outcome window, judged by the promotion gate.

When drift (``ml.drift``) says the champion's probabilities no longer match the outcomes, its ranking may still be
good: refitting only the calibrator is cheaper and smaller than retraining. The window is every labelled intake
(its 365-day outcome window closed) received on or after the champion's ``test_from``: neither its booster nor its
calibrator was fitted on any of them. The window is split by days of receipt into a fitting part (the earlier
``FIT_FRACTION``) and a test part (the later rest); the new calibrator (and the review threshold, on the same
share of intakes as in training) is fitted on the fitting part only, and the gate (``ml.promotion.evaluate_gates``)
judges the new version against the champion on the test part only, so that neither is judged on data it was
fitted on. The new version keeps the champion's booster and history margin; it is registered as the challenger with
``test_from`` the test part's first day and tags naming the version and window it recalibrates. A rejected
recalibration can still be promoted only by the audited override (``ml.lifecycle.override_promotion``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from sqlalchemy import Engine

from kodomo.appdata.access import require_role
from kodomo.appdata.accounts import Account
from kodomo.appdata.warehouse import read_only
from kodomo.operational import DATA_SCIENTIST, AccessEntry, log_access
from kodomo.settings import Settings
from ml.calibrate import ProbabilityCalibrator
from ml.evaluate import describe_scores
from ml.fairness import subgroup_columns, subgroup_table
from ml.features import design_matrix, read_features
from ml.model import RiskModel
from ml.pipeline import (CALIBRATION, MIN_OUTCOMES_PER_SLICE, PROBABILITIES, REVIEW_FRACTION, NotEnoughData,
                         labelled)
from ml.promotion import Decision, GateLimits, evaluate_gates
from ml.registry import (CHALLENGER, CHAMPION, DECISION_TAG, MODEL_NAME, RegisteredRun, connect, load_baseline,
                         load_version, log_recalibration_run, record_decision, version_by_alias)
from ml.store import LABELS, read_table

REQUEST_RECALIBRATION = "request_recalibration"  # the audit action
FIT_FRACTION = 0.5  # of the window's intakes, the earlier ones the calibrator is fitted on
RECALIBRATED, CHAMPION_SCORE = "lightgbm", "champion"  # the scores' names in the new run's metrics


@dataclass(frozen=True)
class RecalibrationWindow:
    start: pd.Timestamp  # first day of receipt (the champion's test_from)
    test_from: pd.Timestamp  # first day of the test part; the fitting part is [start, test_from)
    end: pd.Timestamp  # the day after the last labelled receipt

    def __str__(self) -> str:
        return f"[{self.start.date()}, {self.end.date()})"


@dataclass(frozen=True)
class Recalibration:
    source_version: str  # the champion recalibrated
    registered: RegisteredRun
    window: RecalibrationWindow
    fitting_intakes: int
    test_intakes: int
    decision: Decision


def split_window(frame: pd.DataFrame, start: pd.Timestamp,
                 fit_fraction: float = FIT_FRACTION) -> tuple[RecalibrationWindow, pd.DataFrame, pd.DataFrame]:
    """The window of ``frame`` (labelled intakes, oldest first) from ``start``, its fitting and test parts.

    The boundary falls between days; each part needs ``MIN_OUTCOMES_PER_SLICE`` of each outcome."""
    day = pd.to_datetime(frame["received_at"]).dt.floor("D")
    window = frame[(day >= start).to_numpy()].reset_index(drop=True)
    days = day[day >= start].sort_values().reset_index(drop=True)
    if days.empty:
        raise NotEnoughData(f"no labelled intake received on or after {start.date()} (the champion's test_from): "
                            "no outcome window has closed since the champion was trained")
    test_from = days.iloc[min(int(len(days) * fit_fraction), len(days) - 1)]
    bounds = RecalibrationWindow(start, test_from, days.iloc[-1] + pd.Timedelta(days=1))
    in_test = (pd.to_datetime(window["received_at"]).dt.floor("D") >= test_from).to_numpy()
    fitting, test = window[~in_test].reset_index(drop=True), window[in_test].reset_index(drop=True)
    for name, part in (("fitting", fitting), ("test", test)):
        positives = int(part["outcome"].sum())
        if min(positives, len(part) - positives) < MIN_OUTCOMES_PER_SLICE:
            raise NotEnoughData(f"the {name} part of the recalibration window {bounds} has {positives} of {len(part)} "
                                f"intakes with the outcome; at least {MIN_OUTCOMES_PER_SLICE} of each are needed")
    return bounds, fitting, test.astype({"outcome": np.int64})


def recalibrated(champion: RiskModel, fitting: pd.DataFrame) -> RiskModel:
    """The champion's booster and margin with a calibrator and review threshold fitted on ``fitting`` only."""
    model = RiskModel(champion.booster, champion.margin, ProbabilityCalibrator(CALIBRATION), np.nan)
    X, y = design_matrix(fitting), fitting["outcome"].to_numpy()
    model.calibrator.fit(model.raw_score(X), y)
    model.review_threshold = float(np.quantile(model.predict_proba(X)[:, 1], 1 - REVIEW_FRACTION))
    return model


def _unjudged_challenger(client: MlflowClient, champion: ModelVersion) -> ModelVersion | None:
    challenger = version_by_alias(client, CHALLENGER)
    if challenger is None or challenger.version == champion.version or DECISION_TAG in challenger.tags:
        return None
    return challenger


def recalibrate_champion(features: pd.DataFrame, labels: pd.DataFrame, settings: Settings,
                         limits: GateLimits = GateLimits()) -> Recalibration:
    """Recalibrate the champion on its latest closed window, register the challenger and apply the gate's verdict."""
    client = connect(settings)
    champion = version_by_alias(client, CHAMPION)
    if champion is None:
        raise ValueError(f"{MODEL_NAME} has no champion to recalibrate")
    waiting = _unjudged_challenger(client, champion)
    if waiting is not None:
        raise ValueError(f"{MODEL_NAME} v{waiting.version} is a challenger the gate has not judged yet; "
                         "judge it before recalibrating")
    source_run = client.get_run(champion.run_id)
    start = pd.Timestamp(source_run.data.params["test_from"])
    window, fitting, test = split_window(labelled(features, labels), start)
    champion_model = load_version(client, champion)
    model = recalibrated(champion_model, fitting)

    X, y = design_matrix(test), test["outcome"].to_numpy()
    scores = {RECALIBRATED: model.predict_proba(X)[:, 1], CHAMPION_SCORE: champion_model.predict_proba(X)[:, 1]}
    metrics = describe_scores(y, scores, test["person_key"].to_numpy(), PROBABILITIES | {CHAMPION_SCORE})
    subgroups = subgroup_table(y, scores[RECALIBRATED], model.review_threshold, subgroup_columns(test),
                               limits.fairness)
    params = {"test_from": window.test_from.date().isoformat(),
              "recalibration_from": window.start.date().isoformat(),
              "recalibration_until": window.end.date().isoformat(),
              "recalibration_fitting_intakes": len(fitting),
              "recalibration_fitting_positives": int(fitting["outcome"].sum()),
              "test_intakes": len(test), "test_positives": int(y.sum())}
    registered = log_recalibration_run(model, champion, str(window), params, metrics, test, subgroups, settings)
    version = client.get_model_version(MODEL_NAME, registered.version)
    decision = evaluate_gates(model, test, load_baseline(client, champion), champion=champion_model, limits=limits)
    decision.champion_version = str(champion.version)
    record_decision(client, version, decision)
    return Recalibration(str(champion.version), registered, window, len(fitting), len(test), decision)


def request_recalibration(engine: Engine, user: Account, settings: Settings) -> Recalibration:
    """Recalibrate the champion for a data scientist (the model page's button), on the published warehouse.

    The audit row (action ``request_recalibration``) is written before anything is fitted or registered."""
    require_role(user, DATA_SCIENTIST)
    client = connect(settings)
    champion = version_by_alias(client, CHAMPION)
    log_access(engine, AccessEntry(user.user_id, user.role, REQUEST_RECALIBRATION, user.agency_id,
                                   detail=f"recalibration of {MODEL_NAME} "
                                          f"{'(no champion)' if champion is None else f'v{champion.version}'}"))
    with read_only(settings.warehouse_path) as con:
        features, labels = read_features(con), read_table(con, LABELS)
    return recalibrate_champion(features, labels, settings)
