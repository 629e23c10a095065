"""Subgroup performance: AUC, ECE and false-positive / false-negative rates at the review threshold.

Subgroups: single-parent household, economic hardship and child disability (assessment items),
prefecture and agency type (of the intake's agency), age band. A group with fewer than 10 intakes or
too few positives / negatives is reported as insufficient, not computed (the national statistics rule:
no published cell below 10 people).

Gap limits (documented for promotion): among groups large enough to judge (≥ 300 intakes, ≥ 30 of each
outcome), a group's AUC may not fall more than 0.10 below the overall AUC and its ECE may not exceed
0.10. Smaller groups are reported but do not gate: below that size the sampling noise of a 10-bin ECE
or of an AUC is itself of the order of the limits. Error rates are compared too, but with a wider limit (0.25): when groups differ in their base
rates, a calibrated score cannot equalise false-positive and false-negative rates at one threshold, so
only a large gap there signals a problem rather than a real difference in risk.
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


@dataclass(frozen=True)
class FairnessLimits:
    min_report_n: int = 10
    min_report_class: int = 5
    min_gate_n: int = 300
    min_gate_class: int = 30
    max_auc_drop: float = 0.10
    max_ece: float = 0.10
    max_error_rate_gap: float = 0.25


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


def gap_violations(table: pd.DataFrame, limits: FairnessLimits = FairnessLimits()) -> list[str]:
    """Groups large enough to judge whose gap to the whole slice exceeds a documented limit."""
    overall = table[table["dimension"] == "all"].iloc[0]
    judged = table[(table["dimension"] != "all") & (table["status"] == "ok") & (table["n"] >= limits.min_gate_n)
                   & (table["positives"] >= limits.min_gate_class)
                   & (table["n"] - table["positives"] >= limits.min_gate_class)]
    problems = []
    for row in judged.itertuples():
        where = f"{row.dimension}={row.group}"
        if overall["auc"] - row.auc > limits.max_auc_drop:
            problems.append(f"{where}: AUC {row.auc:.3f} is more than {limits.max_auc_drop} below {overall['auc']:.3f}")
        if row.ece > limits.max_ece:
            problems.append(f"{where}: ECE {row.ece:.3f} exceeds {limits.max_ece}")
        for rate in ("fpr", "fnr"):
            gap = abs(getattr(row, rate) - overall[rate])
            if gap > limits.max_error_rate_gap:
                problems.append(f"{where}: {rate.upper()} {getattr(row, rate):.3f} differs from "
                                f"{overall[rate]:.3f} by more than {limits.max_error_rate_gap}")
    return problems
