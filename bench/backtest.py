"""Backtest benchmark: train as of several cutoffs and judge the scores against the generator's truth.

For each cutoff, the model trains on what was known before it (``ml.backtest.train_and_score``, the
code behind ``kodomo backtest``) and scores every intake received from the cutoff on. The scores are
judged on the intakes whose true 365-day window closed (the truth's ``outcome``), beside the oracle's
AUC on the same intakes: AUC, ECE, mean predicted against observed rate, and time per cutoff.

    python bench/backtest.py --scale prefecture [--seed 0] [--cutoffs 2022-04-01,2023-04-01,2024-01-01]
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import time

import duckdb
from common import ensure_landing, parse_arguments
from train import ensure_platform, read_truth

from ml.backtest import train_and_score
from ml.evaluate import auc, expected_calibration_error
from ml.features import KEY

DEFAULT_CUTOFFS = "2022-04-01,2023-04-01,2024-01-01"


def judge(scores, truth) -> dict:
    """The scores against the truth on the intakes whose window closed."""
    closed = truth[truth["window_closed"].astype(int) == 1]
    judged = scores.merge(closed[[*KEY, "outcome", "oracle_risk"]], on=KEY)
    y = judged["outcome"].to_numpy()
    return {
        "scored": len(scores), "judged": len(judged), "outcome_rate": round(float(y.mean()), 4),
        "mean_score": round(float(judged["risk_score"].mean()), 4),
        "auc": round(auc(y, judged["risk_score"].to_numpy()), 4),
        "oracle_auc": round(auc(y, judged["oracle_risk"].to_numpy()), 4),
        "ece": round(expected_calibration_error(y, judged["risk_score"].to_numpy()), 4),
        "oracle_ece": round(expected_calibration_error(y, judged["oracle_risk"].to_numpy()), 4),
    }


def main() -> int:
    args, workdir = parse_arguments(__doc__.splitlines()[0], extra=[("--cutoffs", DEFAULT_CUTOFFS)])
    landing = ensure_landing(workdir, args.scale, args.seed)
    warehouse = ensure_platform(landing, workdir / f"ml-home-{args.scale}-{args.seed}")
    truth = read_truth(landing)
    results = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set enable_progress_bar = false")
        for cutoff in (dt.date.fromisoformat(c) for c in args.cutoffs.split(",")):
            started = time.perf_counter()
            scores, trained_on, positives = train_and_score(con, cutoff)
            results.append({"cutoff": cutoff.isoformat(), "trained_on": trained_on, "positives": positives,
                            "seconds": round(time.perf_counter() - started, 1), **judge(scores, truth)})
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"scale": args.scale, "seed": args.seed, "cutoffs": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
