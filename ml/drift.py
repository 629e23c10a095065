"""Drift of the champion: each newly closed outcome window against the window it was trained on.

The training window is the model's training slice (intakes received before its run's ``valid_from``); the later
windows are the calendar quarters of receipt after it whose outcomes have closed (labelled intakes). Per window:
- the share of positive outcomes, against the training window's;
- the score distribution: the population stability index (PSI) of the calibrated probability over the deciles of
  the training window's scores (PSI above 0.25 is read as a major shift, 0.10–0.25 as moderate);
- calibration: calibration-in-the-large (observed share − mean predicted probability) and the ECE (bias-corrected,
  ``ml.evaluate.calibration_error``).

**Alert** (``CALIBRATION_BOUND``): a window of at least ``MIN_JUDGED_INTAKES`` intakes whose calibration-in-the-large is beyond ±3 points and beyond twice its
standard error (``sqrt(Σ p(1 − p)) / n`` for a calibrated model), so that a small window's noise does not alert.
Three points is where a caseworker would read a probability differently (a 12 % shown for an observed 15 %); the
backtests of the prefecture world (``ml.model_card``) stay within it after the history margin. An alert asks
for retraining or recalibration, judged by the promotion gate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluate import Estimate, bootstrap_indices, calibration_error
from ml.features import KEY, design_matrix
from ml.model import RiskModel

CALIBRATION_BOUND = 0.03
WINDOW_PERIOD = "Q"  # calendar quarters of receipt (pandas period alias)
NOISE_MULTIPLE = 2.0
MIN_JUDGED_INTAKES = 50  # a part-quarter at either end is shown but never alerts
PSI_MODERATE, PSI_MAJOR = 0.10, 0.25
TRAINING = "training"
_PSI_FLOOR = 1e-4  # an empty bin's share, so that the PSI stays finite
DRIFT_COLUMNS = ["window", "first_received", "intakes", "positive_share", "positive_share_change", "mean_predicted",
                 "calibration_in_the_large", "ece", "ece_low", "ece_high", "psi", "alert"]


def population_stability(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference`` over the reference's quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, "right"), minlength=len(edges) + 1) / len(reference)
    actual = np.bincount(np.searchsorted(edges, current, "right"), minlength=len(edges) + 1) / len(current)
    expected, actual = np.maximum(expected, _PSI_FLOOR), np.maximum(actual, _PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def calibration_alert(y: np.ndarray, probability: np.ndarray, bound: float = CALIBRATION_BOUND) -> bool:
    """Calibration-in-the-large beyond ``bound`` and beyond ``NOISE_MULTIPLE`` standard errors."""
    difference = float(np.mean(y) - np.mean(probability))
    standard_error = float(np.sqrt(np.sum(probability * (1 - probability)))) / len(y)
    return abs(difference) > bound and abs(difference) > NOISE_MULTIPLE * standard_error


def drift_report(model: RiskModel, features: pd.DataFrame, labels: pd.DataFrame, valid_from: pd.Timestamp,
                 bound: float = CALIBRATION_BOUND, period: str = WINDOW_PERIOD) -> pd.DataFrame:
    """One row for the training window, then one per ``period`` of receipt after it (``DRIFT_COLUMNS``)."""
    frame = features.merge(labels[[*KEY, "outcome"]], on=KEY, validate="one_to_one")
    received = pd.to_datetime(frame["received_at"])
    probability = model.predict_proba(design_matrix(frame))[:, 1]
    y = frame["outcome"].to_numpy(dtype=int)
    persons = frame["person_key"].to_numpy()
    training = (received < valid_from).to_numpy()
    if not training.any():
        raise ValueError(f"no labelled intake received before the training window's end {valid_from.date()}")
    windows = np.where(training, TRAINING, received.dt.to_period(period).astype(str))
    reference_share = float(y[training].mean())
    rows = []
    for window in [TRAINING, *sorted(set(windows[~training]))]:
        mask = windows == window
        ece = calibration_error(y[mask], probability[mask], bootstrap_indices(persons[mask], samples=200)) \
            if 0 < y[mask].sum() < mask.sum() else Estimate(np.nan, np.nan, np.nan)
        share = float(y[mask].mean())
        rows.append({
            "window": window, "first_received": received[mask].min(), "intakes": int(mask.sum()),
            "positive_share": share, "positive_share_change": share - reference_share,
            "mean_predicted": float(probability[mask].mean()),
            "calibration_in_the_large": share - float(probability[mask].mean()),
            "ece": ece.value, "ece_low": ece.low, "ece_high": ece.high,
            "psi": population_stability(probability[training], probability[mask]),
            "alert": window != TRAINING and mask.sum() >= MIN_JUDGED_INTAKES
                     and calibration_alert(y[mask], probability[mask], bound),
        })
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)
