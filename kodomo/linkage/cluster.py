"""From scored pairs of child records to children: constrained connected components and review pairs.

Nodes are child records ``(agency_id, local_child_id)``: all variants of one node are one child (the hard
within-agency link). Edges at or above ``LINK_THRESHOLD`` join nodes, strongest first, unless the join
would put two IDs of one agency into one child — an agency gives each child one ID, so such an edge is
a contradiction (typically twins) and goes to review instead. Pairs in the middle band
``[SCORE_FLOOR, LINK_THRESHOLD)`` that stay apart are listed for review, never merged silently.

A supervisor's decisions on review pairs (``kodomo.linkage.decisions``) bind every run, whatever the scores of
a retrained model: "different children" is a cannot-link (no edge may join components that would hold both
records), "same child" a must-link, joined before any scored edge and regardless of the agency constraint (the
supervisor has seen the records). A must-link that contradicts cannot-links goes back to review as
``decision_conflict``; decided pairs are not listed for review again.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from kodomo.linkage.model import SCORE_FLOOR

#: Match probability at or above which two child records are the same child: odds of 19 to 1. Below it,
#: down to ``SCORE_FLOOR`` (0.5, even odds), a pair is for review. On the generated prefecture world any
#: threshold from 0.8 to 0.99 keeps pairwise precision and recall above 0.99; 0.95 is chosen a priori.
LINK_THRESHOLD = 0.95
UNCERTAIN = "uncertain"
AGENCY_CONFLICT = "agency_conflict"
DECISION_CONFLICT = "decision_conflict"


class AgencyConstrainedUnion:
    """Union-find whose components never hold two nodes of one agency (unless ``constrained`` is off), nor both
    nodes of a cannot-link pair."""

    def __init__(self, node_agencies: dict[str, str], constrained: bool = True,
                 cannot_link: Iterable[tuple[str, str]] = ()):
        self.parent = {node: node for node in node_agencies}
        self.agencies = {node: {agency} for node, agency in node_agencies.items()}
        self.constrained = constrained
        # per component root: the nodes that may never join it
        self.apart: dict[str, set[str]] = {}
        for a, b in cannot_link:
            if a in self.parent and b in self.parent:
                self.apart.setdefault(a, set()).add(b)
                self.apart.setdefault(b, set()).add(a)

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def kept_apart(self, root_a: str, root_b: str) -> bool:
        """Whether a cannot-link pair has a node in each of the two components."""
        return any(self.find(node) == root_b for node in self.apart.get(root_a, ()))

    def union(self, a: str, b: str, forced: bool = False) -> bool:
        """Join the components of a and b; False when they share an agency (unless ``forced``) or a cannot-link
        pair would end up in one component (already joined: True)."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return True
        if self.constrained and not forced and self.agencies[root_a] & self.agencies[root_b]:
            return False
        if self.kept_apart(root_a, root_b):
            return False
        if len(self.agencies[root_a]) < len(self.agencies[root_b]):
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.agencies[root_a] |= self.agencies.pop(root_b)
        self.apart.setdefault(root_a, set()).update(self.apart.pop(root_b, ()))
        return True


def person_key(smallest_node: str) -> str:
    """Pseudonymous and stable: the same members give the same key on every run; no name goes in."""
    return "P" + hashlib.sha256(smallest_node.encode("utf-8")).hexdigest()[:16]


def _keyed(nodes: pd.DataFrame, union: AgencyConstrainedUnion) -> pd.DataFrame:
    smallest = nodes["node_id"].groupby(nodes["node_id"].map(union.find)).transform("min")
    return nodes.assign(person_key=smallest.map(person_key))


def cluster_nodes(nodes: pd.DataFrame, scores: pd.DataFrame, threshold: float = LINK_THRESHOLD,
                  must_link: Iterable[tuple[str, str]] = (),
                  cannot_link: Iterable[tuple[str, str]] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Person keys of ``nodes`` (node_id, agency_id) and the edges refused (``reason``: an agency conflict, or a
    must-link against cannot-links), under the decided pairs (node_id pairs)."""
    union = AgencyConstrainedUnion(dict(zip(nodes["node_id"], nodes["agency_id"])), cannot_link=cannot_link)
    refused_decisions = [(a, b) for a, b in must_link
                         if a in union.parent and b in union.parent and not union.union(a, b, forced=True)]
    links = scores[scores["match_probability"] >= threshold].sort_values(
        ["match_probability", "node_l", "node_r"], ascending=[False, True, True])
    accepted = [union.union(a, b) for a, b in zip(links["node_l"], links["node_r"])]
    refused = links[~np.array(accepted, dtype=bool)].assign(reason=AGENCY_CONFLICT)
    if refused_decisions:
        scored = scores.set_index(["node_l", "node_r"])[["match_probability", "match_weight"]]
        conflicts = pd.DataFrame([(min(a, b), max(a, b)) for a, b in refused_decisions], columns=["node_l", "node_r"])
        conflicts = conflicts.join(scored, on=["node_l", "node_r"]).assign(reason=DECISION_CONFLICT)
        refused = pd.concat([refused, conflicts], ignore_index=True)
    return _keyed(nodes, union), refused


def connected_components(nodes: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """Person keys by plain connected components over ``edges`` (node_l, node_r): the baseline's way."""
    union = AgencyConstrainedUnion(dict(zip(nodes["node_id"], nodes["agency_id"])), constrained=False)
    for a, b in zip(edges["node_l"], edges["node_r"]):
        union.union(a, b)
    return _keyed(nodes, union)


def review_pairs(scores: pd.DataFrame, keyed: pd.DataFrame, refused: pd.DataFrame,
                 threshold: float = LINK_THRESHOLD, decided: Iterable[tuple[str, str]] = ()) -> pd.DataFrame:
    """Pairs a person should look at: middle-band pairs left apart, and refused strong links (``refused`` with its
    ``reason``); pairs already decided are not, unless their decision could not be applied."""
    key = dict(zip(keyed["node_id"], keyed["person_key"]))
    band = scores[(scores["match_probability"] >= SCORE_FLOOR) & (scores["match_probability"] < threshold)]
    band = band[band["node_l"].map(key) != band["node_r"].map(key)].assign(reason=UNCERTAIN)
    settled = {frozenset(pair) for pair in decided}
    if settled:
        band = band[np.array([frozenset((a, b)) not in settled for a, b in zip(band["node_l"], band["node_r"])],
                             dtype=bool)]
        refused = refused[np.array([reason == DECISION_CONFLICT or frozenset((a, b)) not in settled
                                    for a, b, reason in zip(refused["node_l"], refused["node_r"], refused["reason"])],
                                   dtype=bool)]
    pairs = pd.concat([band, refused], ignore_index=True)
    pairs["person_key_l"] = pairs["node_l"].map(key)
    pairs["person_key_r"] = pairs["node_r"].map(key)
    return pairs.sort_values(["match_probability", "node_l", "node_r"], ascending=[False, True, True],
                             ignore_index=True)
