"""The history margin: a log-linear term in the counts of the child's past events, from which LightGBM boosts.

Why: the platform's records begin on one day, so a child's history on record lengthens year by year, and
the intakes a model scores carry more past reports, protections and moves than any it trained on. Trees
are flat beyond their last split and under-predict there. On the prefecture world, trained on the first
two years (backtest cutoff 2022-04-01), a model of trees alone scored the later intakes at 0.202 on
average against an outcome rate of 0.244 (ECE 0.042). A logistic term in ``log(1 + count)`` keeps
raising the risk with each further event, at a diminishing rate; LightGBM then fits everything else (the
assessment items, interactions, what the counts do beyond the log-linear shape) as boosting from this
initial score.

Its SHAP values are exact as well: for a linear term with the training mean as reference, an input's
contribution is its coefficient times its distance from that mean. They add to the trees' TreeSHAP
values on the same log-odds scale.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ml.features import HISTORY_FEATURES

# Little regularisation: a dozen inputs against thousands of intakes, and a shrunken slope is the very
# under-prediction of long histories this term exists to avoid.
MARGIN_C = 1.0


@dataclass(frozen=True)
class HistoryMargin:
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    means: tuple[float, ...]  # mean of log(1 + count) over the training intakes: the SHAP reference

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.log1p(np.clip(X[list(self.features)].to_numpy(dtype=np.float64), 0.0, None))

    def logit(self, X: pd.DataFrame) -> np.ndarray:
        return self.intercept + self.transform(X) @ np.asarray(self.coefficients)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-intake contribution of each count (log-odds), relative to the training mean."""
        centred = self.transform(X) - np.asarray(self.means)
        return pd.DataFrame(centred * np.asarray(self.coefficients), columns=list(self.features), index=X.index)

    @property
    def expected_logit(self) -> float:
        """The margin at the training means: its share of the bias."""
        return float(self.intercept + np.dot(self.means, self.coefficients))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> HistoryMargin:
        return cls(tuple(values["features"]), tuple(float(c) for c in values["coefficients"]),
                   float(values["intercept"]), tuple(float(m) for m in values["means"]))


def fit_history_margin(X: pd.DataFrame, y: np.ndarray, features: tuple[str, ...] = HISTORY_FEATURES,
                       c: float = MARGIN_C) -> HistoryMargin:
    """Logistic regression of the outcome on ``log(1 + count)`` of each history count (training slice only)."""
    transformed = np.log1p(np.clip(X[list(features)].to_numpy(dtype=np.float64), 0.0, None))
    fit = LogisticRegression(C=c, max_iter=2000).fit(transformed, y)
    return HistoryMargin(tuple(features), tuple(float(v) for v in fit.coef_[0]), float(fit.intercept_[0]),
                         tuple(float(v) for v in transformed.mean(axis=0)))
