"""Subgroup performance: AUC, ECE and false-positive / false-negative rates at the review threshold.

Subgroups: single-parent household, economic hardship and child disability (assessment items),
prefecture and agency type (of the intake's agency), age band. A group with fewer than 10 intakes or
too few positives / negatives is reported as insufficient, not computed (the national statistics rule:
no published cell below 10 people).

Gap limits (documented for promotion), judged only for groups large enough (≥ 300 intakes, ≥ 30 of
each outcome; below that the sampling noise of a 10-bin ECE or of an AUC is of the order of the
limits, so smaller groups are reported but do not gate):
- calibration within every group: ECE ≤ 0.10, because the app shows probabilities and they must mean
  the same for every group;
- no widened gap: a group's gap to the whole slice (AUC below it, FPR or FNR away from it) may not
  exceed the same gap of a reference model on the same intakes at the same workload (the same share
  flagged) by more than 0.05 AUC or 0.10 in an error rate (a gap exactly at the limit passes). The reference
  is always the run's own logistic regression on the same features and data, never the champion: against the
  previous model, each generation could widen a gap by up to the limit again, without end.
Why relative and not absolute: some gaps are in the data, not in the model. Infants cannot describe
what happened and have little history, so even the generator's oracle ranks them worse (AUC 0.74
against 0.83 overall on the prefecture world), and groups with lower base rates get higher FNR at one
threshold from any calibrated score. A gate on the raw gap would block the best possible model. Nor is
there a floor on a group's AUC: where the data hold no ranking within a group, a calibrated probability
is still true for it, and calibration is gated in every group.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.evaluate import auc, expected_calibration_error
from ml.features import age_band

SUBGROUPS = {
    "single_parent": "single_parent",
    "economic_hardship": "economic_hardship",
    "child_disability": "child_disability",
    "prefecture": "prefecture_code",
    "agency_type": "agency_type",
}
INSUFFICIENT = "insufficient"
# Gaps are differences of differences: a widening equal to its limit may come out a few ulps above it.
_ROUNDING = 1e-9


@dataclass(frozen=True)
class FairnessLimits:
    min_report_n: int = 10
    min_report_class: int = 5
    min_gate_n: int = 300
    min_gate_class: int = 30
    max_ece: float = 0.10
    max_auc_gap_widening: float = 0.05
    max_error_rate_gap_widening: float = 0.10


def subgroup_columns(features: pd.DataFrame) -> pd.DataFrame:
    """One column per subgroup dimension, values as text (a missing assessment item reads ``missing``)."""
    out = {name: features[column].astype("string").fillna("missing") for name, column in SUBGROUPS.items()}
    out["age_band"] = age_band(features["age_years"])
    return pd.DataFrame(out, index=features.index)


def error_rates(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    """False-positive rate among negatives, false-negative rate among positives."""
    y = np.asarray(y).astype(bool)
    return float(flagged[~y].mean()), float((~flagged[y]).mean())


def group_metrics(y: np.ndarray, probability: np.ndarray, threshold: float, limits: FairnessLimits) -> dict:
    n, positives = len(y), int(np.sum(y))
    row = {"n": n, "positives": positives}
    if n < limits.min_report_n or min(positives, n - positives) < limits.min_report_class:
        return {**row, "status": INSUFFICIENT, "auc": np.nan, "ece": np.nan, "fpr": np.nan, "fnr": np.nan}
    fpr, fnr = error_rates(y, probability >= threshold)
    return {**row, "status": "ok", "auc": auc(y, probability), "ece": expected_calibration_error(y, probability),
            "fpr": fpr, "fnr": fnr}


def subgroup_table(y: np.ndarray, probability: np.ndarray, threshold: float, subgroups: pd.DataFrame,
                   limits: FairnessLimits = FairnessLimits()) -> pd.DataFrame:
    """One row for the whole slice, then one per (dimension, group)."""
    y, probability = np.asarray(y), np.asarray(probability)
    rows = [{"dimension": "all", "group": "all", **group_metrics(y, probability, threshold, limits)}]
    for dimension in subgroups.columns:
        values = subgroups[dimension].to_numpy()
        for group in sorted(pd.unique(values)):
            mask = values == group
            rows.append({"dimension": dimension, "group": str(group),
                         **group_metrics(y[mask], probability[mask], threshold, limits)})
    return pd.DataFrame(rows)


def same_workload_threshold(reference: np.ndarray, flagged_share: float) -> float:
    """The reference's threshold that flags the same share of intakes as the model it is compared with."""
    return float(np.quantile(reference, 1 - flagged_share))


def _gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Per group: AUC below the whole slice, and FPR / FNR distance from it."""
    overall = table[table["dimension"] == "all"].iloc[0]
    groups = table[table["dimension"] != "all"].set_index(["dimension", "group"])
    return pd.DataFrame({"auc": overall["auc"] - groups["auc"], "fpr": (groups["fpr"] - overall["fpr"]).abs(),
                         "fnr": (groups["fnr"] - overall["fnr"]).abs()})


def gap_violations(table: pd.DataFrame, reference: pd.DataFrame,
                   limits: FairnessLimits = FairnessLimits()) -> list[str]:
    """Judged groups that are miscalibrated, or whose gap is wider than the reference model's."""
    judged = table[(table["dimension"] != "all") & (table["status"] == "ok") & (table["n"] >= limits.min_gate_n)
                   & (table["positives"] >= limits.min_gate_class)
                   & (table["n"] - table["positives"] >= limits.min_gate_class)]
    gaps, reference_gaps = _gaps(table), _gaps(reference)
    widening = {"auc": limits.max_auc_gap_widening, "fpr": limits.max_error_rate_gap_widening,
                "fnr": limits.max_error_rate_gap_widening}
    problems = []
    for row in judged.itertuples():
        where, key = f"{row.dimension}={row.group}", (row.dimension, row.group)
        if row.ece > limits.max_ece:
            problems.append(f"{where}: ECE {row.ece:.3f} exceeds {limits.max_ece}")
        for metric, limit in widening.items():
            ours, theirs = gaps.loc[key, metric], reference_gaps.loc[key, metric]
            if ours - theirs > limit + _ROUNDING:
                problems.append(f"{where}: {metric.upper()} gap {ours:.3f} is wider than the reference's "
                                f"{theirs:.3f} by more than {limit}")
    return problems
