"""Training and evaluation from feature and label frames (no I/O): what a run logs and the gates judge."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ml.calibrate import Method, ProbabilityCalibrator
from ml.checklist import checklist_score
from ml.evaluate import Estimate, compare_auc, describe_scores
from ml.explain import global_importance, grouped_contributions
from ml.fairness import FairnessLimits, subgroup_columns, subgroup_table
from ml.features import KEY, design_matrix
from ml.margin import HistoryMargin, fit_history_margin
from ml.model import RiskModel
from ml.promotion import subgroup_problems
from ml.split import TEST, TRAIN, VALID, TemporalSplit, temporal_split
from ml.train import GRID, LightGBMFit, fit_lightgbm, fit_logistic, refit_lightgbm

# The share of intakes the review threshold flags for senior review (set on the calibration slice).
REVIEW_FRACTION = 0.2
# Platt scaling keeps the booster's ranking (its AUC) intact; isotonic steps cost AUC and, in backtests
# at three cutoffs on the prefecture world, calibrated no better under the drift of later years.
CALIBRATION: Method = "platt"
# Below these, a fit or an AUC says nothing: the model step reports it and trains nothing.
MIN_LABELLED_INTAKES = 200
MIN_OUTCOMES_PER_SLICE = 10  # of each outcome, in every slice used
SCORES = ("lightgbm", "logistic", "checklist", "lightgbm_within_agency")
PROBABILITIES = frozenset({"lightgbm", "logistic", "lightgbm_within_agency"})


class NotEnoughData(ValueError):
    """Too few labelled intakes (or outcomes in a slice) to train and judge a model."""


def split_labelled(frame: pd.DataFrame, valid_fraction: float = 0.2, test_fraction: float = 0.2) -> TemporalSplit:
    """The temporal split of ``frame``, refused when a slice would be too thin to fit or judge."""
    if len(frame) < MIN_LABELLED_INTAKES:
        raise NotEnoughData(f"{len(frame)} labelled intakes; at least {MIN_LABELLED_INTAKES} are needed")
    try:
        split = temporal_split(frame["received_at"], valid_fraction, test_fraction)
    except ValueError as exc:
        raise NotEnoughData(str(exc)) from None
    for name, group in frame.groupby(split.assign(frame["received_at"]).to_numpy()):
        positives = int(group["outcome"].sum())
        if min(positives, len(group) - positives) < MIN_OUTCOMES_PER_SLICE:
            raise NotEnoughData(f"the {name} slice has {positives} of {len(group)} intakes with the outcome; "
                                f"at least {MIN_OUTCOMES_PER_SLICE} of each are needed")
    return split


def labelled(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Features of the labelled intakes with their outcome, oldest first."""
    frame = features.merge(labels[[*KEY, "outcome"]], on=KEY, how="inner", validate="one_to_one")
    return frame.sort_values(["received_at", *KEY]).reset_index(drop=True)


def fit_risk_model(frame: pd.DataFrame, slices: pd.Series, grid=GRID,
                   calibration: Method = CALIBRATION) -> tuple[RiskModel, LightGBMFit]:
    """The history margin and LightGBM fitted on the training slice, chosen and calibrated on the validation slice."""
    X, y = design_matrix(frame), frame["outcome"].to_numpy()
    train, valid = (slices == TRAIN).to_numpy(), (slices == VALID).to_numpy()
    margin = fit_history_margin(X[train], y[train])
    fit = fit_lightgbm(X[train], y[train], frame.loc[train, "person_key"].to_numpy(), X[valid], y[valid], margin,
                       grid)
    model = _calibrated(fit.booster, margin, X[valid], y[valid], calibration)
    model.review_threshold = float(np.quantile(model.predict_proba(X[valid])[:, 1], 1 - REVIEW_FRACTION))
    return model, fit


def _calibrated(booster: lgb.Booster, margin: HistoryMargin, X_valid: pd.DataFrame, y_valid: np.ndarray,
                calibration: Method = CALIBRATION) -> RiskModel:
    """The model with its calibrator fitted on the validation slice (no review threshold yet)."""
    model = RiskModel(booster, margin, ProbabilityCalibrator(calibration), review_threshold=np.nan)
    model.calibrator.fit(model.raw_score(X_valid), y_valid)
    return model


def _calibrated_refit(fit: LightGBMFit, frame: pd.DataFrame, slices: pd.Series) -> RiskModel:
    """The chosen configuration retrained on other features (within-agency history)."""
    X, y = design_matrix(frame), frame["outcome"].to_numpy()
    train, valid = (slices == TRAIN).to_numpy(), (slices == VALID).to_numpy()
    margin = fit_history_margin(X[train], y[train])
    booster = refit_lightgbm(fit.params, fit.rounds, X[train], y[train], margin)
    return _calibrated(booster, margin, X[valid], y[valid])


@dataclass
class TrainingReport:
    model: RiskModel
    logistic: Pipeline
    logistic_c: float
    lightgbm: LightGBMFit
    split: TemporalSplit
    data_end: dt.date
    counts: pd.DataFrame  # per slice: intakes, positives, first and last receipt
    test: pd.DataFrame  # test intakes: keys, outcome, every score, subgroup columns
    metrics: dict[str, dict[str, Estimate]]
    comparisons: dict[str, Estimate]
    fairness: pd.DataFrame
    fairness_problems: list[str]  # subgroup gates against the logistic baseline (a first model's reference)
    importance: pd.Series  # mean |SHAP| per input on the test slice
    test_contributions: pd.DataFrame
    test_matrix: pd.DataFrame
    test_features: pd.DataFrame  # the test intakes' mart rows (the registered model's input example)

    @property
    def auc(self) -> float:
        return self.metrics["lightgbm"]["auc"].value

    @property
    def ece(self) -> float:
        return self.metrics["lightgbm"]["ece"].value

    def flat_metrics(self) -> dict[str, float]:
        """Every figure as an MLflow metric name: test_<score>_<metric>[_low|_high], cv / valid AUC."""
        out = {}
        for score, metrics in self.metrics.items():
            for name, e in metrics.items():
                out.update({f"test_{score}_{name}": e.value, f"test_{score}_{name}_low": e.low,
                            f"test_{score}_{name}_high": e.high})
        for name, e in self.comparisons.items():
            out.update({f"test_auc_{name}": e.value, f"test_auc_{name}_low": e.low, f"test_auc_{name}_high": e.high})
        chosen = self.lightgbm.selection.loc[self.lightgbm.selection["valid_auc"].idxmax()]
        out.update({"cv_auc": float(chosen["cv_auc"]), "valid_auc": float(chosen["valid_auc"]),
                    "review_threshold": self.model.review_threshold})
        return out


def slice_counts(frame: pd.DataFrame, slices: pd.Series) -> pd.DataFrame:
    grouped = frame.groupby(slices.to_numpy())
    counts = grouped.agg(intakes=("outcome", "size"), positives=("outcome", "sum"),
                         first_received=("received_at", "min"), last_received=("received_at", "max"))
    return counts.reindex([TRAIN, VALID, TEST])


def train_and_evaluate(features: pd.DataFrame, labels: pd.DataFrame, within_agency_features: pd.DataFrame,
                       data_end: dt.date, grid=GRID, limits: FairnessLimits = FairnessLimits()) -> TrainingReport:
    """Split in time, fit LightGBM and logistic regression, evaluate them and the checklist on the test slice."""
    frame = labelled(features, labels)
    split = split_labelled(frame)
    slices = split.assign(frame["received_at"])
    model, fit = fit_risk_model(frame, slices, grid)

    X, y = design_matrix(frame), frame["outcome"].to_numpy()
    train, valid, test = ((slices == s).to_numpy() for s in (TRAIN, VALID, TEST))
    logistic, c = fit_logistic(X[train], y[train], X[valid], y[valid])

    within = labelled(within_agency_features, labels)
    within = within.set_index(KEY).loc[pd.MultiIndex.from_frame(frame[KEY])].reset_index()
    within_model = _calibrated_refit(fit, within, slices)

    test_frame = frame[test].reset_index(drop=True)
    X_test = X[test].reset_index(drop=True)
    scores = {
        "lightgbm": model.predict_proba(X_test)[:, 1],
        "logistic": logistic.predict_proba(X_test.to_numpy(dtype=np.float64))[:, 1],
        "checklist": checklist_score(test_frame).to_numpy(dtype=float),
        "lightgbm_within_agency": within_model.predict_proba(design_matrix(within[test].reset_index(drop=True)))[:, 1],
    }
    y_test, groups = test_frame["outcome"].to_numpy(), test_frame["person_key"].to_numpy()
    metrics = describe_scores(y_test, scores, groups, PROBABILITIES)
    comparisons = compare_auc(y_test, scores, [("lightgbm", "logistic"), ("lightgbm", "checklist"),
                                               ("lightgbm", "lightgbm_within_agency")], groups)
    subgroups = subgroup_columns(test_frame)
    fairness = subgroup_table(y_test, scores["lightgbm"], model.review_threshold, subgroups, limits)
    problems = subgroup_problems(y_test, scores["lightgbm"], model.review_threshold, scores["logistic"], subgroups,
                                 limits)
    contrib = model.contributions(X_test)
    test_out = pd.concat([test_frame[[*KEY, "person_key", "received_at", "outcome"]], pd.DataFrame(scores),
                          subgroups], axis=1)
    return TrainingReport(
        model=model, logistic=logistic, logistic_c=c, lightgbm=fit, split=split, data_end=data_end,
        counts=slice_counts(frame, slices), test=test_out, metrics=metrics, comparisons=comparisons,
        fairness=fairness, fairness_problems=problems, importance=global_importance(grouped_contributions(contrib)),
        test_contributions=contrib, test_matrix=X_test, test_features=test_frame.drop(columns="outcome"),
    )
