"""Explanations: exact SHAP values — TreeSHAP of the trees (LightGBM ``pred_contrib=True``) plus the history
margin's linear SHAP (``ml.margin``), on one log-odds scale — grouped by input.

A one-hot item contributes through several columns (``injury_severity=severe``, ``…=none``, …); their
contributions are summed so that a reason names the item and the intake's value of it. Contributions
are on the log-odds scale of the uncalibrated model and add up, with the bias, to its log-odds;
calibration is monotone, so their order holds.
"""
from __future__ import annotations

from functools import cache

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.features import feature_groups
from ml.margin import HistoryMargin

TOP_REASONS = 3
BIAS = "bias"


def contributions(booster: lgb.Booster, margin: HistoryMargin, X: pd.DataFrame) -> pd.DataFrame:
    """Per-intake SHAP values, one column per model input plus the bias (expected value)."""
    values = booster.predict(X.to_numpy(dtype=np.float64), pred_contrib=True, num_threads=1)
    frame = pd.DataFrame(values, columns=[*booster.feature_name(), BIAS], index=X.index)
    frame[list(margin.features)] += margin.contributions(X).to_numpy()
    frame[BIAS] += margin.expected_logit
    return frame


@cache
def _group_matrix(columns: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """A 0/1 matrix summing model columns into their inputs, and the inputs' names in order."""
    groups = feature_groups()
    names = tuple(dict.fromkeys(groups.get(c, c) for c in columns))
    matrix = np.zeros((len(columns), len(names)))
    for i, column in enumerate(columns):
        matrix[i, names.index(groups.get(column, column))] = 1.0
    return matrix, names


def grouped_contributions(contrib: pd.DataFrame) -> pd.DataFrame:
    """SHAP values summed per input (item, route, count); the bias is dropped."""
    columns = tuple(c for c in contrib.columns if c != BIAS)
    matrix, names = _group_matrix(columns)
    return pd.DataFrame(contrib[list(columns)].to_numpy() @ matrix, columns=list(names), index=contrib.index)


def top_reasons(grouped: pd.DataFrame, values: pd.DataFrame, k: int = TOP_REASONS) -> list[list[dict]]:
    """For each intake, the ``k`` inputs that raise its risk most: name, the intake's value, contribution."""
    names = grouped.columns.to_numpy()
    matrix = grouped.to_numpy()
    shown = values[list(names)].to_numpy()
    order = np.argsort(-matrix, axis=1)[:, :k]
    reasons = []
    for row, top in enumerate(order):
        reasons.append([
            {"feature": str(names[j]), "value": _plain(shown[row, j]), "contribution": round(float(matrix[row, j]), 4)}
            for j in top if matrix[row, j] > 0
        ])
    return reasons


def _plain(value):
    """JSON-friendly value: counts as int, ages rounded, codes as text."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else round(float(value), 1)
    return str(value)


def global_importance(grouped: pd.DataFrame) -> pd.Series:
    """Mean |SHAP| per input over the intakes, largest first (the global summary)."""
    return grouped.abs().mean().sort_values(ascending=False)
