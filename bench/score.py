"""Benchmark: scoring one new intake at a time as the app does (identify, features, score, reasons).

The intakes are a built warehouse's own scored intakes (``ml.intake_scores``), replayed as input lines of
``kodomo score``: the report as first recorded with its person fields and its assessment. Each is scored
alone (``ml.live_scoring.score_lines`` on one line); p50 and p95 of the wall time are printed as JSON.

    KODOMO_HOME=... python bench/score.py [--count 200]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from kodomo.appdata.warehouse import read_only
from kodomo.settings import get_settings
from ml.live_scoring import intake_lines, load_champion, score_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    settings = get_settings()
    champion = load_champion(settings)
    if champion is None:
        raise SystemExit("no champion: build the platform first (kodomo run)")
    with read_only(settings.warehouse_path) as con:
        lines = intake_lines(con, args.count)
        score_lines(con, champion, [lines[0][2]])  # the compiled SQL and the model's caches, as at app start
        seconds = []
        for _, _, line in lines:
            started = time.perf_counter()
            score_lines(con, champion, [line])
            seconds.append(time.perf_counter() - started)
    print(json.dumps({"intakes": len(seconds), "p50_ms": round(1000 * float(np.percentile(seconds, 50)), 1),
                      "p95_ms": round(1000 * float(np.percentile(seconds, 95)), 1)}))


if __name__ == "__main__":
    main()
