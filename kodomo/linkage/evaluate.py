"""Measuring a links table against the generator's truth — evaluation only, never training.

Pairwise precision / recall / F1 over child records ``(agency_id, local_child_id)``: a pair is
predicted when both records carry one person_key, true when both belong to one child in
``child_records.csv``. The exact-match baseline links records that share a folded name and birth date.
Each missed or wrong pair is given its reasons, read from the two records' person fields and, where the
truth has them, from ``children.csv`` (twins, surname changes).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.linkage.cluster import connected_components
from kodomo.linkage.records import equal_pairs, node_ids, read_person_variants, with_comparison_columns

KEY = ["agency_id", "local_child_id"]


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    def as_dict(self) -> dict:
        return asdict(self)


def read_truth(truth_dir: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(truth_dir) / "child_records.csv", dtype=str)


def _pairs(counts: pd.Series) -> int:
    return int((counts * (counts - 1) // 2).sum())


def pairwise_scores(links: pd.DataFrame, truth: pd.DataFrame) -> PairScores:
    """Scores of ``links`` (agency_id, local_child_id, person_key) against ``truth`` (…, child_id).

    A truth record missing from ``links`` counts as a child of its own; a linked record unknown to the
    truth is a child of its own too.
    """
    both = truth[[*KEY, "child_id"]].merge(links[[*KEY, "person_key"]], on=KEY, how="outer")
    both["child_id"] = both["child_id"].fillna("unknown:" + both["agency_id"] + "|" + both["local_child_id"])
    both["person_key"] = both["person_key"].fillna("unlinked:" + both["agency_id"] + "|" + both["local_child_id"])
    correct = _pairs(both.groupby(["person_key", "child_id"]).size())
    predicted = _pairs(both.groupby("person_key").size())
    true = _pairs(both.groupby("child_id").size())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(round(precision, 5), round(recall, 5), round(f1, 5), true, predicted, correct)


def person_records(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return with_comparison_columns(read_person_variants(con))


def exact_match_links(records: pd.DataFrame) -> pd.DataFrame:
    """The baseline: records sharing a folded kanji name and a birth date are one child."""
    nodes = records[["node_id", *KEY]].drop_duplicates("node_id")
    edges = equal_pairs(records, ["full_name", "birth_date"])
    return connected_components(nodes, edges)[[*KEY, "person_key"]]


def read_children(truth_dir: str | Path) -> pd.DataFrame:
    """The truth's children (twin_of, surname_changed_on), when the truth folder has them."""
    path = Path(truth_dir) / "children.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["twin_of", "surname_changed_on"], index=pd.Index([], name="child_id"))
    return pd.read_csv(path, dtype=str).set_index("child_id")


def _closest_variants(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The variants of two child records that agree most: what still differs explains the outcome."""
    agreement = {(i, j): sum(a.loc[i, c] == b.loc[j, c] for c in ("birth_date", "full_name", "full_kana", "given"))
                 for i in a.index for j in b.index}
    i, j = max(agreement, key=agreement.get)
    return a.loc[i], b.loc[j]


def missed_reason(a: pd.Series, b: pd.Series, surname_changed: bool) -> str:
    """Why two records of one child may have stayed apart: every difference between them."""
    reasons = []
    if a["birth_date"] != b["birth_date"]:
        reasons.append("birth-date typo")
    if a["surname"] != b["surname"] and a["surname_kana"] != b["surname_kana"]:
        reasons.append("surname change" if surname_changed else "surname differs")
    if a["given"] == b["given"] and a["given_kana"] != b["given_kana"]:
        reasons.append("kana typo")
    if a["full_kana"] == b["full_kana"] and a["full_name"] != b["full_name"]:
        reasons.append("kanji differs (unfolded variant or typo)")
    if a["sex"] != b["sex"]:
        reasons.append("sex differs or unknown")
    return " + ".join(reasons) or "same name, kana and birth date (weak place evidence)"


def wrong_reason(a: pd.Series, b: pd.Series, twins: bool) -> str:
    """Why two children may have been merged."""
    if twins:
        return "twin merge"
    if a["birth_date"] == b["birth_date"] and a["full_name"] == b["full_name"]:
        return "same name and birth date"
    if a["birth_date"] == b["birth_date"] and a["given"] == b["given"]:
        return "same given name and birth date, other surname"
    return "other"


def _member_pairs(members_by_group: pd.Series) -> set[tuple[str, str]]:
    return {pair for members in members_by_group for pair in combinations(sorted(members), 2)}


def classify_errors(links: pd.DataFrame, truth: pd.DataFrame, records: pd.DataFrame,
                    children: pd.DataFrame) -> dict[str, Counter]:
    """Counts of missed pairs (same child, two keys) and wrong pairs (two children, one key) by reason."""
    both = truth.merge(links, on=KEY)
    both["node_id"] = node_ids(both)
    child_of = dict(zip(both["node_id"], both["child_id"]))
    true_pairs = _member_pairs(both.groupby("child_id")["node_id"].agg(list))
    predicted_pairs = _member_pairs(both.groupby("person_key")["node_id"].agg(list))
    missed_pairs, wrong_pairs = true_pairs - predicted_pairs, predicted_pairs - true_pairs
    involved = {node for pair in missed_pairs | wrong_pairs for node in pair}
    variants = dict(tuple(records[records["node_id"].isin(involved)].groupby("node_id")))
    changed = children["surname_changed_on"].notna() if len(children) else pd.Series(dtype=bool)
    twin_of = children["twin_of"].dropna().to_dict() if len(children) else {}
    missed, wrong = Counter(), Counter()
    for a, b in missed_pairs:
        missed[missed_reason(*_closest_variants(variants[a], variants[b]),
                             surname_changed=bool(changed.get(child_of[a], False)))] += 1
    for a, b in wrong_pairs:
        wrong[wrong_reason(*_closest_variants(variants[a], variants[b]),
                           twins=twin_of.get(child_of[a]) == child_of[b])] += 1
    return {"missed": missed, "wrong": wrong}


def evaluate(con: duckdb.DuckDBPyConnection, truth_dir: str | Path) -> dict:
    """Linkage of the warehouse (``linkage.person_links``) and the baseline, against the truth."""
    truth, children = read_truth(truth_dir), read_children(truth_dir)
    records = person_records(con)
    links = con.execute("select agency_id, local_child_id, person_key from linkage.person_links").df()
    baseline = exact_match_links(records)
    return {
        "linkage": pairwise_scores(links, truth).as_dict(),
        "baseline_exact_name_and_birth_date": pairwise_scores(baseline, truth).as_dict(),
        "errors": {kind: dict(counts.most_common()) for kind, counts in
                   classify_errors(links, truth, records, children).items()},
        "baseline_errors": {kind: dict(counts.most_common()) for kind, counts in
                            classify_errors(baseline, truth, records, children).items()},
    }
