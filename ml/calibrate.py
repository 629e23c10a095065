"""Turning model scores into probabilities, fitted on the calibration slice (never on training data).

The calibrator also keeps, from the calibration slice, what ``interval`` needs to say how much evidence stands
behind a calibrated probability ``p``: a 95 % interval of the calibration map at that score (its sampling
uncertainty; not the booster's own uncertainty, nor drift since training).

- Platt scaling (the deployed method, ``ml.pipeline.CALIBRATION``): the covariance of the two fitted coefficients
  (``covariance_``, the inverse Fisher information of the logistic fit). ``p`` is ``sigmoid(a + b·x)`` for one
  score ``x``; the interval is ``sigmoid(a + b·x ± 1.96·se)`` with ``se² = [1, x] · covariance_ · [1, x]ᵀ`` (the
  delta method): narrow where the calibration slice has many intakes, wider towards the extremes.
- Isotonic regression: the sorted calibrated probabilities of the slice (``calibrated_``). The interval is the
  Jeffreys interval of a share ``p`` observed among ``n`` intakes, ``Beta(p·n + ½, (1 − p)·n + ½)``, where ``n``
  counts the calibration intakes that gave ``p``: its isotonic block (whose ``p`` is the block's observed share
  of outcomes), or the two blocks either side when ``p`` is interpolated, widened to the nearest
  ``MIN_NEIGHBOURS`` intakes when fewer.

Both are stored with the calibrator, so a registered model version has them (``ml.registry`` logs the calibrator
whole); a version logged before they were kept has no interval (None).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.stats import beta, norm
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Method = Literal["isotonic", "platt"]
_EPS = 1e-6
#: Fewest calibration intakes an isotonic interval rests on (a smaller block is widened to its neighbours).
MIN_NEIGHBOURS = 30
INTERVAL_LEVEL = 0.95


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def neighbourhood(calibrated: np.ndarray, p: float, least: int = MIN_NEIGHBOURS) -> int:
    """How many of the sorted calibrated probabilities stand behind ``p`` (isotonic; see the module's docstring)."""
    size = len(calibrated)
    lo, hi = int(np.searchsorted(calibrated, p, "left")), int(np.searchsorted(calibrated, p, "right"))
    if lo == hi:  # interpolated: the values either side, each with all its ties
        if lo > 0:
            lo = int(np.searchsorted(calibrated, calibrated[lo - 1], "left"))
        if hi < size:
            hi = int(np.searchsorted(calibrated, calibrated[hi], "right"))
    while hi - lo < min(least, size):
        below = p - calibrated[lo - 1] if lo > 0 else np.inf
        above = calibrated[hi] - p if hi < size else np.inf
        if below <= above:
            lo = int(np.searchsorted(calibrated, calibrated[lo - 1], "left"))
        else:
            hi = int(np.searchsorted(calibrated, calibrated[hi], "right"))
    return hi - lo


def jeffreys_interval(p: float, n: int, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """Equal-tailed Jeffreys interval of a share ``p`` seen among ``n``; the ends are 0 and 1 at the edges."""
    tail = (1 - level) / 2
    low = 0.0 if p <= 0 else float(beta.ppf(tail, p * n + 0.5, (1 - p) * n + 0.5))
    high = 1.0 if p >= 1 else float(beta.ppf(1 - tail, p * n + 0.5, (1 - p) * n + 0.5))
    return min(low, p), max(high, p)


def logistic_covariance(x: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Covariance of (intercept, slope) of a logistic fit on one input: the inverse of ``Xᵀ W X``."""
    design = np.column_stack([np.ones_like(x), x])
    weights = fitted * (1 - fitted)
    return np.linalg.inv(design.T @ (design * weights[:, None]))


def delta_interval(p: float, coefficients: tuple[float, float], covariance: np.ndarray,
                   level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """Interval of ``p = sigmoid(a + b·x)`` from the coefficients' covariance (the delta method on the log-odds)."""
    intercept, slope = coefficients
    z = float(_logit(p))
    x = (z - intercept) / slope
    vector = np.array([1.0, x])
    half = float(norm.ppf(1 - (1 - level) / 2)) * float(np.sqrt(vector @ covariance @ vector))
    return float(_sigmoid(z - half)), float(_sigmoid(z + half))


class ProbabilityCalibrator(BaseEstimator):
    """Isotonic regression (monotone, non-parametric) or Platt scaling (a logistic fit on the score's logit)."""

    def __init__(self, method: Method = "isotonic"):
        self.method = method

    def fit(self, scores: np.ndarray, y: np.ndarray) -> ProbabilityCalibrator:
        if self.method == "isotonic":
            self.estimator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
            self.calibrated_ = np.sort(self.predict(scores))
        elif self.method == "platt":
            self.estimator_ = LogisticRegression(C=1e6).fit(_logit(scores).reshape(-1, 1), y)
            self.covariance_ = logistic_covariance(_logit(scores), self.predict(scores))
        else:
            raise ValueError(f"unknown calibration method {self.method!r}")
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return self.estimator_.predict(np.asarray(scores, dtype=float))
        return self.estimator_.predict_proba(_logit(scores).reshape(-1, 1))[:, 1]

    def interval(self, p: float) -> tuple[float, float] | None:
        """The 95 % interval of the calibrated probability ``p`` (see the module's docstring); None for a
        calibrator fitted before intervals were kept."""
        if self.method == "platt":
            covariance = getattr(self, "covariance_", None)
            if covariance is None:
                return None
            coefficients = (float(self.estimator_.intercept_[0]), float(self.estimator_.coef_[0, 0]))
            return delta_interval(float(p), coefficients, covariance)
        calibrated = getattr(self, "calibrated_", None)
        if calibrated is None or len(calibrated) == 0:
            return None
        return jeffreys_interval(float(p), neighbourhood(calibrated, float(p)))
