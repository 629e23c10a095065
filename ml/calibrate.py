"""Turning model scores into probabilities, fitted on the calibration slice (never on training data)."""
from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Method = Literal["isotonic", "platt"]
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class ProbabilityCalibrator(BaseEstimator):
    """Isotonic regression (monotone, non-parametric) or Platt scaling (a logistic fit on the score's logit)."""

    def __init__(self, method: Method = "isotonic"):
        self.method = method

    def fit(self, scores: np.ndarray, y: np.ndarray) -> ProbabilityCalibrator:
        if self.method == "isotonic":
            self.estimator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        elif self.method == "platt":
            self.estimator_ = LogisticRegression(C=1e6).fit(_logit(scores).reshape(-1, 1), y)
        else:
            raise ValueError(f"unknown calibration method {self.method!r}")
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return self.estimator_.predict(np.asarray(scores, dtype=float))
        return self.estimator_.predict_proba(_logit(scores).reshape(-1, 1))[:, 1]
