"""The deployed model (a LightGBM booster, its calibrator and the review threshold, used together) and the
logistic-regression baseline logged beside it."""
from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from sklearn.pipeline import Pipeline

from ml.calibrate import ProbabilityCalibrator
from ml.explain import contributions, grouped_contributions, top_reasons


@dataclass
class RiskModel:
    booster: lgb.Booster
    calibrator: ProbabilityCalibrator
    # Calibrated probability at or above which an intake is flagged for senior review.
    review_threshold: float

    @property
    def feature_names(self) -> list[str]:
        return self.booster.feature_name()

    def aligned(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's own columns in its own order (a column it does not know is dropped, one missing is 0)."""
        names = self.feature_names
        if len(X.columns) == len(names) and all(X.columns == names):
            return X
        return X.reindex(columns=names, fill_value=0.0)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.aligned(X).to_numpy(dtype=np.float64), num_threads=1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.calibrator.predict(self.raw_score(X))

    def explain(self, X: pd.DataFrame, values: pd.DataFrame) -> tuple[np.ndarray, list[list[dict]]]:
        """Calibrated probabilities and each intake's top reasons (grouped TreeSHAP)."""
        aligned = self.aligned(X)
        contrib = contributions(self.booster, aligned)
        raw = 1.0 / (1.0 + np.exp(-contrib.sum(axis=1).to_numpy()))  # SHAP values add up to the raw log-odds
        return self.calibrator.predict(raw), top_reasons(grouped_contributions(contrib), values)


@dataclass
class BaselineModel:
    """Logistic regression on the same design matrix: the fairness reference of a first model."""

    pipeline: Pipeline
    feature_names: list[str]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        aligned = X.reindex(columns=self.feature_names, fill_value=0.0)
        return self.pipeline.predict_proba(aligned.to_numpy(dtype=np.float64))[:, 1]
