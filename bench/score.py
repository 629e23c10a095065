"""Benchmark and parity check of live scoring on a built warehouse (issue 10's acceptance figures).

Latency: intakes of the warehouse replayed one at a time as the app scores an intake a caseworker enters
(``ml.live_scoring``: validation, identification with the linkage model, point-in-time features, the champion's
probability with its interval, reasons and what-ifs, the checklist); p50 / p95 of the wall time.

Parity: every intake of the warehouse replayed as an input line of ``kodomo score`` (its report as first
recorded, its assessment, its original ``received_at``) and scored live in one batch, against the batch's own
score of it: ``ml.intake_scores`` for the open intakes the pipeline scored, and for every intake the champion's
score of its ``marts.intake_features`` row (``ml.scoring.score_intakes``, what the pipeline runs on the open ones).
Also the share whose live identification found the batch's ``person_key``. Printed as JSON, with the intakes
that differ (up to ``--show``), each with what differs: the child, or the features.

    KODOMO_HOME=... python bench/score.py [--count 500] [--no-parity]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from kodomo.appdata.warehouse import read_only
from kodomo.settings import get_settings
from ml.features import HISTORY_FEATURES, read_features
from ml.live_scoring import (assess_entry, intake_lines, load_champion, raw_fields, score_lines, validate)
from ml.scoring import score_intakes

TOLERANCE = 0.005


def latency(con, champion, lines: list[str]) -> dict:
    agencies = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())
    seconds = []
    for text in lines:
        started = time.perf_counter()
        typed, errors = validate(pd.DataFrame([raw_fields(text)]), agencies)
        assert errors.isna().all(), errors.iloc[0]
        assess_entry(con, champion, typed)
        seconds.append(time.perf_counter() - started)
    return {"intakes": len(seconds), "p50_ms": round(1000 * float(np.percentile(seconds, 50)), 1),
            "p95_ms": round(1000 * float(np.percentile(seconds, 95)), 1),
            "max_ms": round(1000 * float(np.max(seconds)), 1)}


def parity(con, champion, show: int) -> dict:
    lines = intake_lines(con, every_intake=True)
    results = score_lines(con, champion, [line for _, _, line in lines])
    live = pd.DataFrame([{"agency_id": a, "report_id": r, **result} for (a, r, _), result in zip(lines, results)])
    if "error" in live:
        errors = live[live["error"].notna()]
        assert errors.empty, errors[["agency_id", "report_id", "error"]].head().to_dict("records")
    features = read_features(con)
    batch = score_intakes(champion.model, features)[["agency_id", "report_id", "person_key", "risk_score"]]
    both = live.merge(batch, on=["agency_id", "report_id"], suffixes=("", "_batch"))
    both["agrees"] = (both["risk_score"] - both["risk_score_batch"]).abs() < TOLERANCE
    both["same_child"] = both["person_key"] == both["person_key_batch"]
    stored = con.execute("select agency_id, report_id, risk_score as risk_score_stored from ml.intake_scores").df()
    open_ = both.merge(stored, on=["agency_id", "report_id"])
    open_agrees = (open_["risk_score"] - open_["risk_score_stored"]).abs() < TOLERANCE
    differing = both[~both["agrees"]]
    return {
        "intakes": len(lines), "compared": len(both),
        "within_0.005": round(float(both["agrees"].mean()), 5), "differing": int((~both["agrees"]).sum()),
        "differing_with_other_child": int((~differing["same_child"]).sum()),
        "open_intakes_vs_ml_intake_scores": {"compared": len(open_), "within_0.005": round(float(open_agrees.mean()), 5)},
        "identification_agrees_with_batch_person_key": round(float(both["same_child"].mean()), 5),
        "identified_existing": round(float((both["match"] == "existing").mean()), 5),
        "examples": _examples(con, champion, differing.head(show), features,
                              {(a, r): text for a, r, text in lines}),
    }


def _examples(con, champion, differing: pd.DataFrame, features: pd.DataFrame, lines: dict) -> list[dict]:
    """What differs for each differing intake: the identified child, and the history features it changes."""
    out = []
    for row in differing.itertuples():
        batch_row = features[(features["agency_id"] == row.agency_id) & (features["report_id"] == row.report_id)]
        example = {"agency_id": row.agency_id, "report_id": row.report_id, "live": row.risk_score,
                   "batch": round(float(row.risk_score_batch), 6), "same_child": bool(row.same_child),
                   "live_candidates": [(c["person_key"] == row.person_key_batch, c["probability"])
                                       for c in row.candidates]}
        if row.same_child:
            line = lines[(row.agency_id, row.report_id)]
            agencies = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())
            typed, _ = validate(pd.DataFrame([raw_fields(line)]), agencies)
            live_row = assess_entry(con, champion, typed).features.iloc[0]
            example["history_differs"] = {f: (live_row[f], batch_row.iloc[0][f]) for f in HISTORY_FEATURES
                                          if live_row[f] != batch_row.iloc[0][f]}
        out.append(example)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="intakes timed one at a time")
    parser.add_argument("--no-parity", action="store_true", help="time only")
    parser.add_argument("--show", type=int, default=10, help="differing intakes listed")
    args = parser.parse_args()
    settings = get_settings()
    champion = load_champion(settings)
    if champion is None:
        raise SystemExit("no champion: build the platform first (kodomo run)")
    with read_only(settings.warehouse_path) as con:
        every = intake_lines(con, every_intake=True)
        step = max(1, len(every) // args.count)
        timed = [line for _, _, line in every[::step][:args.count]]  # spread over the warehouse's years
        score_lines(con, champion, timed[:1])  # the compiled SQL, the linkage model, the caches: as at app start
        figures = {"latency": latency(con, champion, timed)}
        if not args.no_parity:
            figures["parity"] = parity(con, champion, args.show)
    print(json.dumps(figures, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
