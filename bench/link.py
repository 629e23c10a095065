"""Benchmark: linkage of a generated landing (targets for `prefecture`: ≤ 60 s, ≤ 4 GiB, P and R ≥ 0.98).

Generates the landing once and ingests it once (both cached under the work folder), then runs the
linkage in a child process that reports its own peak RSS, and scores the links and the exact-match
baseline against the generator's truth.

    python bench/link.py --scale prefecture [--seed 0] [--workdir .kodomo/bench]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
from common import INGEST, ensure_landing, measured_child, parse_arguments

from kodomo.linkage.evaluate import evaluate

TARGETS = {"wall_s": 60, "peak_rss_mib": 4096, "precision": 0.98, "recall": 0.98}

# The child process links the warehouse and prints its own peak RSS (KiB on Linux).
LINK = (
    "import resource, sys, duckdb; from pathlib import Path; from kodomo.linkage import link_children;"
    "con = duckdb.connect(sys.argv[1]); link_children(con, Path(sys.argv[2])); con.close();"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def ensure_ingested(home: Path, landing: Path) -> Path:
    warehouse = home / "warehouse.duckdb"
    if not (home / "reports" / "ingest.json").is_file():
        subprocess.run([sys.executable, "-c", INGEST, str(landing)], check=True, stdout=sys.stderr,
                       env=os.environ | {"KODOMO_HOME": str(home)})
    return warehouse


def main() -> int:
    args, workdir = parse_arguments(__doc__.splitlines()[0])
    landing = ensure_landing(workdir, args.scale, args.seed)
    home = workdir / f"home-{args.scale}-{args.seed}"
    warehouse = ensure_ingested(home, landing)

    wall, peak_mib = measured_child(LINK, str(warehouse), str(home / "linkage"))

    with duckdb.connect(str(warehouse), read_only=True) as con:
        scores = evaluate(con, landing.parent / f"{landing.name}-truth")
        child_records, review = con.execute(
            "select (select count(*) from linkage.person_links), (select count(*) from linkage.review_pairs)"
        ).fetchone()
    linkage = scores["linkage"]
    result = {
        "scale": args.scale, "seed": args.seed, "wall_s": round(wall, 1), "peak_rss_mib": round(peak_mib),
        "child_records": child_records, "review_pairs": review, **scores,
    }
    result["meets_targets"] = (wall <= TARGETS["wall_s"] and peak_mib <= TARGETS["peak_rss_mib"]
                               and linkage["precision"] >= TARGETS["precision"]
                               and linkage["recall"] >= TARGETS["recall"])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
