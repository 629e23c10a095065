"""Figures logged with each run: SHAP summary, calibration, ROC and precision-recall curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from ml.evaluate import calibration_table
from ml.explain import BIAS

# Figures are made with matplotlib's object API and saved to files: no pyplot, so no backend (display) is
# chosen, and importing this module changes nothing in matplotlib.
MAX_DISPLAY = 20


def shap_summary_plot(contrib: pd.DataFrame, X: pd.DataFrame, path: Path) -> Path:
    """Beeswarm of per-intake SHAP values for the most influential model inputs."""
    import shap  # heavy import, needed only here

    columns = [c for c in contrib.columns if c != BIAS]
    explanation = shap.Explanation(values=contrib[columns].to_numpy(), data=X[columns].to_numpy(),
                                   feature_names=columns)
    fig = Figure(figsize=(8, min(len(columns), MAX_DISPLAY) * 0.4 + 1.5))
    shap.plots.beeswarm(explanation, max_display=MAX_DISPLAY, ax=fig.add_subplot(), plot_size=None, show=False)
    fig.suptitle("SHAP values on the test slice (log-odds; synthetic data)", fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def calibration_plot(y: np.ndarray, probability: np.ndarray, ece: float, path: Path) -> Path:
    table = calibration_table(y, probability)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.plot(table["predicted"], table["observed"], marker="o")
    for row in table.itertuples():
        ax.annotate(str(row.n), (row.predicted, row.observed), fontsize=7, xytext=(3, -8), textcoords="offset points")
    ax.set(xlabel="predicted probability", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1),
           title=f"Calibration on the test slice (ECE {ece:.3f})")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def roc_pr_plot(y: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    fig = Figure(figsize=(10, 4.5))
    roc_ax, pr_ax = fig.subplots(1, 2)
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        precision, recall, _ = precision_recall_curve(y, score)
        roc_ax.plot(fpr, tpr, label=name)
        pr_ax.plot(recall, precision, label=name)
    roc_ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    roc_ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test slice)")
    pr_ax.axhline(np.mean(y), ls="--", color="grey", lw=1)
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test slice)")
    roc_ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path
