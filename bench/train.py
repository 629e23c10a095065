"""Benchmark of the risk model (targets on `prefecture`: features + training + evaluation ≤ 120 s;
scoring one intake with its SHAP reasons ≤ 50 ms at p95 over 1,000 intakes, in-process).

Generates the landing once (cached under the work folder) and builds the platform once (every asset
but the model's: the feature marts are dbt's; cached too); then times the labels and the reading of the
feature marts, training and evaluation, MLflow logging and promotion, and single-intake scoring. The
generator's ground truth is read here, for evaluation only: the oracle's AUC on the same test intakes and a
check of the labels.

    python bench/train.py --scale prefecture [--seed 0] [--workdir .kodomo/bench]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from common import ensure_landing, parse_arguments

from kodomo.settings import get_settings
from ml.evaluate import auc, bootstrap_indices, estimate, paired_difference
from ml.features import KEY, design_matrix, feature_values, read_features
from ml.labels import build_labels, data_end
from ml.lifecycle import promote_challenger, score_open_intakes
from ml.pipeline import train_and_evaluate
from ml.registry import log_training_run
from ml.store import LABELS, write_table
from orchestration.runner import build_platform

LATENCY_INTAKES = 1000


def ensure_platform(landing: Path, home: Path) -> Path:
    warehouse = home / "warehouse.duckdb"
    if not (home / ".built").is_file():
        build_platform(get_settings().at_home(home), landing)
        (home / ".built").touch()
    return warehouse


def read_truth(landing: Path) -> pd.DataFrame:
    """The generator's intakes (oracle risk, outcome): for evaluation only, never for training."""
    return pd.read_csv(landing.parent / f"{landing.name}-truth" / "intakes.csv",
                       dtype={"agency_id": str, "report_id": str})


def oracle_figures(report, truth: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """The oracle on the same test intakes and labels, and how often our labels agree with the truth's."""
    test = report.test.merge(truth[[*KEY, "oracle_risk", "outcome"]].rename(columns={"outcome": "truth_outcome"}),
                             on=KEY, how="left")
    found = test["oracle_risk"].notna()
    y, groups = test.loc[found, "outcome"].to_numpy(), test.loc[found, "person_key"].to_numpy()
    resamples = bootstrap_indices(groups)
    oracle = estimate(auc, y, test.loc[found, "oracle_risk"].to_numpy(), resamples)
    gap = paired_difference(auc, y, test.loc[found, "lightgbm"].to_numpy(), test.loc[found, "oracle_risk"].to_numpy(),
                            resamples)
    closed = truth[truth["window_closed"].astype(str).str.lower().isin(["true", "1", "yes"])]
    agreement = labels.merge(closed[[*KEY, "outcome"]], on=KEY, suffixes=("", "_truth"))
    return {
        "test_intakes_with_truth": int(found.sum()), "test_intakes": len(test),
        "oracle_auc": oracle.as_dict(), "lightgbm_minus_oracle_auc": gap.as_dict(),
        "labels_matched_to_truth": len(agreement), "labelled_intakes": len(labels),
        "truth_closed_intakes": len(closed),
        "label_agreement": float((agreement["outcome"] == agreement["outcome_truth"]).mean()),
    }


def latency(model, features: pd.DataFrame, n: int = LATENCY_INTAKES) -> dict:
    """Score one intake at a time (design row, calibrated probability, grouped TreeSHAP reasons)."""
    sample = features.sample(n=min(n, len(features)), random_state=0).reset_index(drop=True)
    timings = []
    for i in range(len(sample)):
        row = sample.iloc[[i]]
        started = time.perf_counter()
        model.explain(design_matrix(row), feature_values(row))
        timings.append((time.perf_counter() - started) * 1000)
    return {"intakes": len(timings), "p50_ms": round(float(np.percentile(timings, 50)), 2),
            "p95_ms": round(float(np.percentile(timings, 95)), 2), "max_ms": round(float(np.max(timings)), 2)}


def main() -> int:
    args, workdir = parse_arguments(__doc__.splitlines()[0])
    landing = ensure_landing(workdir, args.scale, args.seed)
    home = workdir / f"ml-home-{args.scale}-{args.seed}"
    warehouse = ensure_platform(landing, home)
    settings = get_settings().at_home(home)

    with duckdb.connect(str(warehouse)) as con:
        con.execute("set enable_progress_bar = false")  # stdout carries the JSON
        started = time.perf_counter()
        labels = build_labels(con)
        features = read_features(con)
        within = read_features(con, within_agency=True)
        end = data_end(con)
        features_s = time.perf_counter() - started
        report = train_and_evaluate(features, labels, within, end)
        train_eval_s = time.perf_counter() - started - features_s
        write_table(con, LABELS, labels)
        started = time.perf_counter()
        registered = log_training_run(report, settings)
        decision = promote_challenger(con, settings)
        version, scored = score_open_intakes(con, settings)
        mlflow_s = time.perf_counter() - started

    m = report.metrics
    result = {
        "scale": args.scale, "seed": args.seed,
        "timings_s": {"labels_and_features": round(features_s, 1), "training_and_evaluation": round(train_eval_s, 1),
                      "features_training_evaluation": round(features_s + train_eval_s, 1),
                      "mlflow_log_promote_score": round(mlflow_s, 1)},
        "intakes": len(features), "labelled": len(labels), "outcome_rate": round(float(labels["outcome"].mean()), 4),
        "slices": {s: {"intakes": int(r.intakes), "positives": int(r.positives)} for s, r in report.counts.iterrows()},
        "split": report.split.as_params(), "chosen": report.lightgbm.selection.to_dict("records"),
        "test": {score: {k: e.as_dict() for k, e in metrics.items()} for score, metrics in m.items()},
        "comparisons": {k: e.as_dict() for k, e in report.comparisons.items()},
        "oracle": oracle_figures(report, read_truth(landing), labels),
        "subgroup_gap_violations_vs_logistic": report.fairness_problems,
        "mlflow": {"run_id": registered.run_id, "version": registered.version, "promoted": decision.promote,
                   "reasons": decision.reasons, "scored_open_intakes": scored, "champion": version},
        "latency": latency(report.model, features),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
