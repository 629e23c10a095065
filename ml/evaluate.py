"""Metrics and their uncertainty: AUC, average precision, Brier score, ECE, grouped bootstrap intervals.

Intervals resample children, not intakes (a cluster bootstrap over person_key): one child's intakes are
correlated, and resampling them independently would make the intervals too narrow.

The interval suits the metric (``INTERVAL_METHODS``):
- AUC, average precision, Brier score: the percentile interval of the bootstrap. The Brier score is a mean and
  AUC a U-statistic (both unbiased); average precision's small bias is far inside its interval.
- ECE: the plug-in ECE is biased upwards (a bin's |observed − predicted| is positive even when the model is
  calibrated: a perfectly calibrated model on 1,500 intakes shows about 0.015), so its bootstrap distribution sits
  above it and the percentile interval can miss its own point. ``calibration_error`` reports the bias-corrected
  ECE (plug-in minus the bootstrap's estimate of its bias, at least 0) with the bias-corrected ("basic") interval:
  the bootstrap percentiles shifted down by twice the bias. Its lower end is 0 whenever the plug-in ECE is what a
  calibrated model would show (within the 97.5th percentile of the ECEs of outcomes drawn from the probabilities
  themselves, "consistency resampling"), since near 0 the bias correction alone is too small. On simulations
  (tests/test_model_ops.py) it covers the true binned ECE about 95 % of the time; the percentile interval covers it
  0 % of the time for a calibrated model.
The promotion gate compares the plug-in ECE with its limit: the bias makes the gate stricter, never laxer.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

ECE_BINS = 10
BOOTSTRAP_SAMPLES = 300
Metric = Callable[[np.ndarray, np.ndarray], float]


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |observed rate − mean probability| over equal-width probability bins, weighted by bin size."""
    y = np.asarray(y, dtype=float)
    probability = np.asarray(probability, dtype=float)
    which = np.minimum((probability * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    observed = np.bincount(which, weights=y, minlength=bins)
    predicted = np.bincount(which, weights=probability, minlength=bins)
    filled = counts > 0
    return float(np.abs(observed[filled] - predicted[filled]).sum() / len(y))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (equal to roc_auc_score, ties included; fast inside a bootstrap)."""
    y = np.asarray(y).astype(bool)
    positives = int(y.sum())
    negatives = len(y) - positives
    ranks = rankdata(score)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the step-wise precision-recall curve (equal to average_precision_score, ties included)."""
    order = np.argsort(-np.asarray(score), kind="mergesort")
    y, score = np.asarray(y, dtype=float)[order], np.asarray(score)[order]
    last_of_threshold = np.r_[np.diff(score) != 0, True]
    true_positives = np.cumsum(y)[last_of_threshold]
    flagged = np.arange(1, len(y) + 1)[last_of_threshold]
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * true_positives / flagged))


def brier(y: np.ndarray, probability: np.ndarray) -> float:
    return float(np.mean((np.asarray(probability, dtype=float) - np.asarray(y, dtype=float)) ** 2))


# Plain numpy: each is computed a few hundred times per score inside the bootstrap.
METRICS: dict[str, Metric] = {
    "auc": auc,
    "average_precision": average_precision,
    "brier": brier,
    "ece": expected_calibration_error,
}


PERCENTILE, BIAS_CORRECTED = "percentile", "bias-corrected"
INTERVAL_METHODS = {"auc": PERCENTILE, "average_precision": PERCENTILE, "brier": PERCENTILE, "ece": BIAS_CORRECTED}
INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    method: str = PERCENTILE

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap_indices(groups: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> list[np.ndarray]:
    """Row indices of each resample: children drawn with replacement, all of a drawn child's rows kept."""
    rng = np.random.default_rng(seed)
    codes, uniques = pd.factorize(pd.Series(groups))
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(uniques)))
    sizes = np.bincount(codes, minlength=len(uniques))
    resamples = []
    for _ in range(samples):
        drawn = rng.integers(0, len(uniques), size=len(uniques))
        lengths = sizes[drawn]
        offsets = np.repeat(starts[drawn] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        resamples.append(order[offsets])
    return resamples


def _usable(y: np.ndarray) -> bool:
    return 0 < y.sum() < len(y)


def estimate(metric: Metric, y: np.ndarray, score: np.ndarray, resamples: list[np.ndarray]) -> Estimate:
    """The metric with a 95 % percentile interval over the resamples."""
    y, score = np.asarray(y), np.asarray(score)
    values = [metric(y[i], score[i]) for i in resamples if _usable(y[i])]
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(metric(y, score), float(low), float(high))


def calibration_error(y: np.ndarray, probability: np.ndarray, resamples: list[np.ndarray], seed: int = 0,
                      bins: int = ECE_BINS) -> Estimate:
    """The bias-corrected ECE and its interval (see the module's docstring)."""
    y, probability = np.asarray(y, dtype=float), np.asarray(probability, dtype=float)
    plug_in = expected_calibration_error(y, probability, bins)
    values = np.array([expected_calibration_error(y[i], probability[i], bins) for i in resamples if _usable(y[i])])
    tail = 100 * (1 - INTERVAL_LEVEL) / 2
    bias = float(values.mean()) - plug_in
    corrected = max(plug_in - bias, 0.0)
    low, high = (max(float(q) - 2 * bias, 0.0) for q in np.percentile(values, [tail, 100 - tail]))
    rng = np.random.default_rng(seed)
    calibrated = [expected_calibration_error(rng.random(len(y)) < probability, probability, bins)
                  for _ in range(len(resamples))]
    if plug_in <= np.percentile(calibrated, 100 - tail):
        low = 0.0
    return Estimate(corrected, min(low, corrected), max(high, corrected), BIAS_CORRECTED)


def paired_difference(metric: Metric, y: np.ndarray, first: np.ndarray, second: np.ndarray,
                      resamples: list[np.ndarray]) -> Estimate:
    """metric(first) − metric(second) on the same intakes, with a paired bootstrap interval."""
    y, first, second = np.asarray(y), np.asarray(first), np.asarray(second)
    values = [metric(y[i], first[i]) - metric(y[i], second[i]) for i in resamples if _usable(y[i])]
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(metric(y, first) - metric(y, second), float(low), float(high))


def describe_scores(y: np.ndarray, scores: dict[str, np.ndarray], groups: np.ndarray,
                    probabilities: frozenset[str] = frozenset(), seed: int = 0) -> dict[str, dict[str, Estimate]]:
    """AUC and average precision of every score; Brier and ECE too for those that are probabilities."""
    resamples = bootstrap_indices(groups, seed=seed)
    out = {}
    for name, score in scores.items():
        metrics = ("auc", "average_precision", "brier", "ece") if name in probabilities else ("auc", "average_precision")
        out[name] = {m: calibration_error(y, score, resamples, seed) if INTERVAL_METHODS[m] == BIAS_CORRECTED
                     else estimate(METRICS[m], y, score, resamples) for m in metrics}
    return out


def compare_auc(y: np.ndarray, scores: dict[str, np.ndarray], pairs: list[tuple[str, str]], groups: np.ndarray,
                seed: int = 0) -> dict[str, Estimate]:
    """AUC differences ``first − second`` for each pair, paired over the same resamples."""
    resamples = bootstrap_indices(groups, seed=seed)
    return {f"{a}_minus_{b}": paired_difference(auc, y, scores[a], scores[b], resamples) for a, b in pairs}


def calibration_table(y: np.ndarray, probability: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per probability bin: count, mean predicted probability and observed rate (the calibration plot)."""
    which = np.minimum((np.asarray(probability) * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": which, "y": y, "p": probability})
    table = frame.groupby("bin").agg(n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return table.reset_index()
