"""Benchmark: ingestion of a generated landing (target for `prefecture`: ≤ 60 s wall, ≤ 2 GiB peak).

Generates the landing once (cached under the work folder), then runs the pipeline's ingestion asset
group in a child process and reports wall time, peak memory (max RSS of the child), rows/s, and whether
the report matches the generator's truth.

    python bench/ingest.py --scale prefecture [--seed 0] [--workdir .kodomo/bench]
"""
from __future__ import annotations

import json
import os
import sys

from common import INGEST, ensure_landing, measured_child, parse_arguments

def compare_with_truth(report: dict, truth: dict) -> list[str]:
    mismatches = []
    for feed, expected in truth.items():
        for field in ("records", "rows_quarantined", "files_quarantined", "quarantine_by_rule"):
            if field in expected and report.get(feed, {}).get(field) != expected[field]:
                mismatches.append(f"{feed}.{field}: got {report.get(feed, {}).get(field)}, truth {expected[field]}")
    return mismatches


def main() -> int:
    args, workdir = parse_arguments(__doc__.splitlines()[0])
    landing = ensure_landing(workdir, args.scale, args.seed)
    home = workdir / f"home-{args.scale}-{args.seed}"
    env = os.environ | {"KODOMO_HOME": str(home)}
    wall, peak_mib = measured_child(INGEST, str(landing), env=env)
    report = json.loads((home / "reports" / "ingest.json").read_text(encoding="utf-8"))
    truth = json.loads((landing.parent / f"{landing.name}-truth" / "expected_ingest.json").read_text(encoding="utf-8"))
    rows = sum(r["rows_read"] for r in report.values())
    mismatches = compare_with_truth(report, truth)
    result = {
        "scale": args.scale, "seed": args.seed, "wall_s": round(wall, 1), "peak_rss_mib": round(peak_mib),
        "rows_read": rows, "rows_per_s": round(rows / wall), "files": sum(r["files_read"] for r in report.values()),
        "records": {feed: r["records"] for feed, r in report.items()},
        "rows_quarantined": sum(r["rows_quarantined"] for r in report.values()),
        "matches_truth": not mismatches, "mismatches": mismatches,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
