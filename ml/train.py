"""Fitting: LightGBM (the model) and logistic regression (a baseline) on the same design matrix.

LightGBM boosts from the history margin (``ml.margin``): the margin's log-odds are each intake's initial
score, so the trees fit what the log-linear history term leaves. Hyper-parameters are chosen on the validation slice only. Inside the training slice, the number of
boosting rounds comes from cross-validation grouped by child (StratifiedGroupKFold over person_key), so
one child's intakes never sit on both sides of a fold.
"""
from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ml.evaluate import auc
from ml.margin import HistoryMargin

# One thread: at this data size OpenMP gains little, and on shared cores its spinning threads made
# training ten times slower (measured: 4.5 s with one thread, 31-42 s with two on a busy 2-core host).
BASE_PARAMS = {
    "objective": "binary", "metric": "auc", "learning_rate": 0.05, "feature_fraction": 0.8,
    "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1, "num_threads": 1,
    "seed": 0, "deterministic": True, "force_col_wise": True,
}
# A small grid: tree size and leaf size are what matter at this data size; keep the search fast.
GRID = (
    {"num_leaves": 4, "min_child_samples": 100},
    {"num_leaves": 7, "min_child_samples": 50},
    {"num_leaves": 15, "min_child_samples": 200},
)
LOGISTIC_C = (0.01, 0.1, 1.0)
CV_FOLDS = 3
MAX_ROUNDS = 500
EARLY_STOPPING_ROUNDS = 30


@dataclass(frozen=True)
class LightGBMFit:
    booster: lgb.Booster
    params: dict
    rounds: int
    selection: pd.DataFrame  # one row per grid point: cv_auc, rounds, valid_auc


def grouped_folds(y: np.ndarray, groups: np.ndarray, folds: int = CV_FOLDS, seed: int = 0):
    """Stratified folds in which every child's intakes stay on one side."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def _dataset(X: pd.DataFrame, y: np.ndarray, margin: HistoryMargin) -> lgb.Dataset:
    # feature_pre_filter off: the grid changes min_child_samples on one constructed dataset. The CV folds
    # are subsets of it and keep their rows' initial scores.
    return lgb.Dataset(X.to_numpy(dtype=np.float64), label=y, init_score=margin.logit(X), feature_name=list(X.columns),
                       params={"feature_pre_filter": False, "verbose": -1}, free_raw_data=False)


def log_odds(booster: lgb.Booster, margin: HistoryMargin, X: pd.DataFrame) -> np.ndarray:
    """The model's log-odds before calibration: the margin plus the trees boosted from it."""
    return margin.logit(X) + booster.predict(X.to_numpy(dtype=np.float64), raw_score=True, num_threads=1)


def cv_rounds(params: dict, dataset: lgb.Dataset, folds) -> tuple[int, float]:
    """Boosting rounds chosen by early stopping on the grouped folds, and the cross-validated AUC there."""
    history = lgb.cv(params, dataset, num_boost_round=MAX_ROUNDS, folds=folds,
                     callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
    scores = history["valid auc-mean"]
    return len(scores), float(scores[-1])


def fit_lightgbm(X_train: pd.DataFrame, y_train: np.ndarray, groups: np.ndarray, X_valid: pd.DataFrame,
                 y_valid: np.ndarray, margin: HistoryMargin, grid=GRID) -> LightGBMFit:
    """Fit every grid point on the training slice, boosting from ``margin``; keep the best validation AUC."""
    dataset = _dataset(X_train, y_train, margin)
    folds = grouped_folds(y_train, groups)
    rows, boosters = [], []
    for point in grid:
        params = {**BASE_PARAMS, **point}
        rounds, cv_auc = cv_rounds(params, dataset, folds)
        booster = lgb.train(params, dataset, num_boost_round=rounds)
        boosters.append(booster)
        rows.append({**point, "rounds": rounds, "cv_auc": cv_auc,
                     "valid_auc": auc(y_valid, log_odds(booster, margin, X_valid))})
    selection = pd.DataFrame(rows)
    best = int(selection["valid_auc"].idxmax())
    return LightGBMFit(boosters[best], {**BASE_PARAMS, **grid[best]}, int(selection.loc[best, "rounds"]), selection)


def refit_lightgbm(params: dict, rounds: int, X: pd.DataFrame, y: np.ndarray, margin: HistoryMargin) -> lgb.Booster:
    """The chosen configuration on other inputs (the within-agency comparison)."""
    return lgb.train(params, _dataset(X, y, margin), num_boost_round=rounds)


def fit_logistic(X_train: pd.DataFrame, y_train: np.ndarray, X_valid: pd.DataFrame, y_valid: np.ndarray,
                 strengths=LOGISTIC_C) -> tuple[Pipeline, float]:
    """Standardised logistic regression; the regularisation strength with the best validation AUC."""
    best, best_auc = None, -np.inf
    for c in strengths:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(X_train.to_numpy(dtype=np.float64), y_train)
        valid_auc = auc(y_valid, model.predict_proba(X_valid.to_numpy(dtype=np.float64))[:, 1])
        if valid_auc > best_auc:
            best, best_auc = model, valid_auc
    return best, float(best["logisticregression"].C)
