"""Promotion gates: a challenger becomes champion only if it is no worse, calibrated and fair enough.

Gates (all must pass), judged on the same test slice:
- AUC not below the current champion's (no champion yet: nothing to compare);
- ECE ≤ 0.05 (the plug-in ECE, biased upwards: the gate errs towards strictness);
- no subgroup gap beyond the limits of ``ml.fairness`` (documented there), against the logistic-regression
  baseline of the challenger's own run — never against the champion, whose gaps were themselves allowed to be
  wider than its baseline's: a relative gate against the previous model would let each generation widen a gap a
  little more.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ml.evaluate import auc, expected_calibration_error
from ml.fairness import (FairnessLimits, gap_violations, same_workload_threshold, subgroup_columns,
                         subgroup_table)
from ml.features import design_matrix
from ml.model import BaselineModel, RiskModel


@dataclass(frozen=True)
class GateLimits:
    max_ece: float = 0.05
    fairness: FairnessLimits = field(default_factory=FairnessLimits)


@dataclass
class Decision:
    promote: bool
    reasons: list[str]
    challenger_auc: float
    challenger_ece: float
    champion_auc: float | None
    champion_version: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def decide(challenger_auc: float, challenger_ece: float, champion_auc: float | None,
           fairness_problems: list[str], limits: GateLimits = GateLimits()) -> Decision:
    """Apply the gates to measured figures; every reason is kept, passing or failing."""
    failures, passes = [], []
    if champion_auc is None:
        passes.append(f"no champion yet: AUC {challenger_auc:.4f} stands alone")
    elif challenger_auc < champion_auc:
        failures.append(f"AUC {challenger_auc:.4f} is worse than the champion's {champion_auc:.4f} on the same test slice")
    else:
        passes.append(f"AUC {challenger_auc:.4f} ≥ champion's {champion_auc:.4f} on the same test slice")
    if challenger_ece > limits.max_ece:
        failures.append(f"ECE {challenger_ece:.4f} exceeds {limits.max_ece}")
    else:
        passes.append(f"ECE {challenger_ece:.4f} ≤ {limits.max_ece}")
    if fairness_problems:
        failures += [f"subgroup gap: {p}" for p in fairness_problems]
    else:
        passes.append("subgroup gaps within limits")
    return Decision(not failures, failures or passes, challenger_auc, challenger_ece, champion_auc)


def subgroup_problems(y: np.ndarray, probability: np.ndarray, threshold: float, reference: np.ndarray,
                      subgroups: pd.DataFrame, limits: FairnessLimits = FairnessLimits()) -> list[str]:
    """Gap violations of a model's probabilities against a reference's scores at the same workload."""
    table = subgroup_table(y, probability, threshold, subgroups, limits)
    flagged_share = float(np.mean(probability >= threshold))
    reference_table = subgroup_table(y, reference, same_workload_threshold(reference, flagged_share), subgroups,
                                     limits)
    return gap_violations(table, reference_table, limits)


def evaluate_gates(challenger: RiskModel, test: pd.DataFrame, baseline: BaselineModel,
                   champion: RiskModel | None = None, limits: GateLimits = GateLimits()) -> Decision:
    """Score the test slice (features with ``outcome``) and decide: AUC against the champion, subgroup gaps against
    the challenger's own baseline."""
    X, y = design_matrix(test), test["outcome"].to_numpy()
    probability = challenger.predict_proba(X)[:, 1]
    problems = subgroup_problems(y, probability, challenger.review_threshold, baseline.predict_proba(X)[:, 1],
                                 subgroup_columns(test), limits.fairness)
    champion_auc = None if champion is None else auc(y, champion.predict_proba(X)[:, 1])
    return decide(auc(y, probability), expected_calibration_error(y, probability), champion_auc, problems, limits)


def labelled_test_slice(features: pd.DataFrame, labels: pd.DataFrame, test_from: pd.Timestamp) -> pd.DataFrame:
    """The labelled intakes received on or after ``test_from`` (a run's logged test boundary)."""
    frame = features.merge(labels[["agency_id", "report_id", "outcome"]], on=["agency_id", "report_id"])
    return frame[pd.to_datetime(frame["received_at"]) >= test_from].reset_index(drop=True).astype(
        {"outcome": np.int64})
