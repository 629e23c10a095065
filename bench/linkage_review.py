"""Linkage review by the truth: what deciding the whole review queue does to the clusters (issue 11's figures).

On a built world (a COPY of it: this writes decisions into its store and runs the pipeline again), the pairwise
precision / recall / F1 of the last run's clusters (``linkage.person_links``) against the generator's truth
(``child_records.csv``: each record's true child) are measured; then every pair of ``linkage.review_pairs`` is
decided the way supervisors do it in the app, by the real data layer (``kodomo.linkage.decisions``): a supervisor
account at each jurisdiction's CGC views its queue, opens each pair and decides it, here by the truth (same
child when both records belong to one child). Then ``kodomo run --landing`` runs the whole pipeline again (the
linkage retrained by EM, the decisions applied as must- and cannot-links), and the clusters are measured again,
with whether each decision held (same pairs share a key, different pairs do not, none is listed again).

    cp -a WORLD WORLD-copy
    KODOMO_HOME=WORLD-copy/home python bench/linkage_review.py --landing WORLD-copy/landing \
        --truth WORLD-copy/landing-truth
"""
from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account, create_account
from kodomo.linkage.decisions import DIFFERENT, SAME, decide_pair, open_pair, review_queue
from kodomo.linkage.evaluate import KEY, pairwise_scores, read_truth
from kodomo.operational import ADMIN, SUPERVISOR, connect
from kodomo.settings import Settings, get_settings

PAIR = ["agency_id_l", "local_child_id_l", "agency_id_r", "local_child_id_r"]
#: The account that creates the supervisors' accounts (an admin acting in the copy's store).
ADMIN_ACTOR = Account("bench-admin", "ベンチ 管理者", "", ADMIN)


def _links(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select agency_id, local_child_id, person_key from linkage.person_links").df()


def _review_pairs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"select {', '.join(PAIR)}, match_probability, reason from linkage.review_pairs").df()


def with_truth(pairs: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with ``same_child``: both records belong to one child of the truth (a record the truth does not
    know is a child of its own)."""
    child = truth.set_index(KEY)["child_id"]
    left = pd.MultiIndex.from_frame(pairs[["agency_id_l", "local_child_id_l"]].set_axis(KEY, axis=1))
    right = pd.MultiIndex.from_frame(pairs[["agency_id_r", "local_child_id_r"]].set_axis(KEY, axis=1))
    left_child, right_child = child.reindex(left).to_numpy(), child.reindex(right).to_numpy()
    return pairs.assign(same_child=pd.notna(left_child) & (left_child == right_child))


def measure(con: duckdb.DuckDBPyConnection, truth: pd.DataFrame) -> dict:
    """The clusters' pairwise scores and the review queue with its pairs' truth."""
    queue = with_truth(_review_pairs(con), truth)
    return {"scores": pairwise_scores(_links(con), truth).as_dict(),
            "review_pairs": len(queue), "review_true": int(queue["same_child"].sum()),
            "review_false": int((~queue["same_child"]).sum()),
            "review_by_reason": queue.groupby("reason").size().to_dict(),
            "true_pair_probability": _quantiles(queue.loc[queue["same_child"], "match_probability"])}


def _quantiles(values: pd.Series) -> dict:
    values = values.dropna()
    if values.empty:
        return {}
    return {"min": round(float(values.min()), 3), "median": round(float(values.median()), 3),
            "max": round(float(values.max()), 3)}


def _supervisors(engine, settings: Settings, agencies) -> dict[str, Account]:
    """One supervisor account at each jurisdiction's CGC, by jurisdiction."""
    found = {}
    for jurisdiction in sorted({a.jurisdiction for a in agencies.values() if a.jurisdiction}):
        account = Account(f"bench-sv-{jurisdiction}", "レビュー 監督者", jurisdiction, SUPERVISOR)
        found[jurisdiction] = create_account(engine, settings, ADMIN_ACTOR, account,
                                             secrets.token_urlsafe(18), agencies)
    return found


def decide_by_truth(settings: Settings, truth: pd.DataFrame) -> pd.DataFrame:
    """Every review pair decided by a supervisor of a jurisdiction holding one of its records, by the truth;
    the decided pairs (``PAIR``, ``outcome``)."""
    child = truth.set_index(KEY)["child_id"].to_dict()
    engine = connect(settings)
    decided = []
    try:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            agencies = load_agencies(con)
            for supervisor in _supervisors(engine, settings, agencies).values():
                for pair in review_queue(con, engine, supervisor, agencies):
                    open_pair(con, engine, supervisor, pair, agencies)
                    left = child.get((pair.left.agency_id, pair.left.local_child_id))
                    same = left is not None and left == child.get((pair.right.agency_id, pair.right.local_child_id))
                    outcome = SAME if same else DIFFERENT
                    decide_pair(engine, supervisor, pair, outcome, agencies, comment="bench: decided by the truth")
                    decided.append((pair.left.agency_id, pair.left.local_child_id, pair.right.agency_id,
                                    pair.right.local_child_id, outcome))
    finally:
        engine.dispose()
    return pd.DataFrame(decided, columns=[*PAIR, "outcome"])


def rerun(landing: Path) -> float:
    """``kodomo run --landing`` on the home of the environment; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kodomo.cli", "run", "--landing", str(landing)], check=True,
                   stdout=sys.stderr)  # stdout stays for the figures
    return time.perf_counter() - started


def decisions_held(con: duckdb.DuckDBPyConnection, decided: pd.DataFrame) -> dict:
    """Whether the run applied each decision: same pairs share a key, different pairs do not, none listed again."""
    key = _links(con).set_index(KEY)["person_key"]
    left = key.reindex(pd.MultiIndex.from_frame(decided[["agency_id_l", "local_child_id_l"]].set_axis(KEY, axis=1)))
    right = key.reindex(pd.MultiIndex.from_frame(decided[["agency_id_r", "local_child_id_r"]].set_axis(KEY, axis=1)))
    together = left.to_numpy() == right.to_numpy()
    same = (decided["outcome"] == SAME).to_numpy()
    listed = _review_pairs(con)[PAIR].merge(decided[PAIR])
    return {"same_decided": int(same.sum()), "same_joined": int((same & together).sum()),
            "different_decided": int((~same).sum()), "different_apart": int((~same & ~together).sum()),
            "decided_listed_again": len(listed)}


def table(before: dict, after: dict, decided: pd.DataFrame, held: dict, rerun_s: float) -> str:
    rows = [("pairs in the review queue", before["review_pairs"], after["review_pairs"]),
            ("  true pairs (one child)", before["review_true"], after["review_true"]),
            ("  false pairs (two children)", before["review_false"], after["review_false"]),
            ("pairwise precision", before["scores"]["precision"], after["scores"]["precision"]),
            ("pairwise recall", before["scores"]["recall"], after["scores"]["recall"]),
            ("pairwise F1", before["scores"]["f1"], after["scores"]["f1"]),
            ("predicted pairs", before["scores"]["predicted_pairs"], after["scores"]["predicted_pairs"]),
            ("correct pairs", before["scores"]["correct_pairs"], after["scores"]["correct_pairs"]),
            ("true pairs (truth)", before["scores"]["true_pairs"], after["scores"]["true_pairs"])]
    lines = [f"{'':32}{'before':>10}{'after':>10}"] + [f"{name:32}{b!s:>10}{a!s:>10}" for name, b, a in rows]
    lines += [f"decided: {len(decided)} pairs ({held['same_decided']} same, {held['different_decided']} different); "
              f"after the rerun {held['same_joined']} same pairs joined, {held['different_apart']} different pairs "
              f"apart, {held['decided_listed_again']} listed again",
              f"rerun (kodomo run --landing, linkage retrained): {rerun_s:.1f} s"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True, type=Path, help="the landing the world was built from")
    parser.add_argument("--truth", required=True, type=Path, help="the generator's truth folder of that landing")
    args = parser.parse_args()
    settings = get_settings()
    truth = read_truth(args.truth)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        before = measure(con, truth)
    decided = decide_by_truth(settings, truth)
    rerun_s = rerun(args.landing)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        after = measure(con, truth)
        held = decisions_held(con, decided)
    print(table(before, after, decided, held, rerun_s))
    print(json.dumps({"before": before, "after": after, "decisions": held, "rerun_s": round(rerun_s, 1)},
                     indent=1))


if __name__ == "__main__":
    main()
