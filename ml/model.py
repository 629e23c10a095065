"""The deployed model (the history margin, the LightGBM booster boosted from it, the calibrator and the
review threshold, used together) and the logistic-regression baseline logged beside it."""
from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from sklearn.pipeline import Pipeline

from ml.calibrate import ProbabilityCalibrator
from ml.explain import contributions, grouped_contributions, top_reasons
from ml.features import NUMERIC_FEATURES, abuse_type_codes, assessment_items
from ml.margin import HistoryMargin
from ml.train import log_odds


def model_input_columns() -> list[str]:
    """The intake features the model reads, named as in ``marts.intake_features`` (no identifier, no date)."""
    return [*NUMERIC_FEATURES, *(f"abuse_{t}" for t in abuse_type_codes()), "route",
            *(c.name for c in assessment_items())]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _as_classes(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - p, p])


@dataclass
class RiskModel:
    booster: lgb.Booster
    margin: HistoryMargin
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
        """The uncalibrated probability (what the calibrator maps)."""
        return _sigmoid(log_odds(self.booster, self.margin, self.aligned(X)))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP values per model input and the bias, adding up to the uncalibrated log-odds."""
        return contributions(self.booster, self.margin, self.aligned(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities as scikit-learn gives them: ``(n, 2)``, column 1 the outcome's."""
        return _as_classes(self.calibrator.predict(self.raw_score(X)))

    def interval(self, probability: float) -> tuple[float, float] | None:
        """The 95 % interval of a calibrated probability (``ml.calibrate``); None for a version without one."""
        return self.calibrator.interval(probability)

    def explain(self, X: pd.DataFrame, values: pd.DataFrame) -> tuple[np.ndarray, list[list[dict]]]:
        """Calibrated probabilities and each intake's top reasons (grouped TreeSHAP)."""
        contrib = self.contributions(X)
        raw = _sigmoid(contrib.sum(axis=1).to_numpy())  # SHAP values add up to the log-odds
        return self.calibrator.predict(raw), top_reasons(grouped_contributions(contrib), values)


@dataclass
class BaselineModel:
    """Logistic regression on the same design matrix: the fairness reference of a first model."""

    pipeline: Pipeline
    feature_names: list[str]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` like the RiskModel's: column 1 is the outcome's probability."""
        aligned = X.reindex(columns=self.feature_names, fill_value=0.0)
        return self.pipeline.predict_proba(aligned.to_numpy(dtype=np.float64))
