"""From scored pairs of child records to children: constrained connected components and review pairs.

Nodes are child records ``(agency_id, local_child_id)``: all variants of one node are one child (the hard
within-agency link). Edges at or above ``LINK_THRESHOLD`` join nodes, strongest first, unless the join
would put two IDs of one agency into one child — an agency gives each child one ID, so such an edge is
a contradiction (typically twins) and goes to review instead. Pairs in the middle band
``[SCORE_FLOOR, LINK_THRESHOLD)`` that stay apart are listed for review, never merged silently.
"""
from __future__ import annotations

import hashlib

import pandas as pd

from kodomo.linkage.model import SCORE_FLOOR

#: Match probability at or above which two child records are the same child: odds of 19 to 1. Below it,
#: down to ``SCORE_FLOOR`` (0.5, even odds), a pair is for review. On the generated prefecture world any
#: threshold from 0.8 to 0.99 keeps pairwise precision and recall above 0.99; 0.95 is chosen a priori.
LINK_THRESHOLD = 0.95
UNCERTAIN = "uncertain"
AGENCY_CONFLICT = "agency_conflict"


class AgencyConstrainedUnion:
    """Union-find whose components never hold two nodes of one agency (unless ``constrained`` is off)."""

    def __init__(self, node_agencies: dict[str, str], constrained: bool = True):
        self.parent = {node: node for node in node_agencies}
        self.agencies = {node: {agency} for node, agency in node_agencies.items()}
        self.constrained = constrained

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> bool:
        """Join the components of a and b; False when they share an agency (already joined: True)."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return True
        if self.constrained and self.agencies[root_a] & self.agencies[root_b]:
            return False
        if len(self.agencies[root_a]) < len(self.agencies[root_b]):
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.agencies[root_a] |= self.agencies.pop(root_b)
        return True


def person_key(smallest_node: str) -> str:
    """Pseudonymous and stable: the same members give the same key on every run; no name goes in."""
    return "P" + hashlib.sha256(smallest_node.encode("utf-8")).hexdigest()[:16]


def _keyed(nodes: pd.DataFrame, union: AgencyConstrainedUnion) -> pd.DataFrame:
    smallest = nodes["node_id"].groupby(nodes["node_id"].map(union.find)).transform("min")
    return nodes.assign(person_key=smallest.map(person_key))


def cluster_nodes(nodes: pd.DataFrame, scores: pd.DataFrame,
                  threshold: float = LINK_THRESHOLD) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Person keys of ``nodes`` (node_id, agency_id) and the edges refused for an agency conflict."""
    union = AgencyConstrainedUnion(dict(zip(nodes["node_id"], nodes["agency_id"])))
    links = scores[scores["match_probability"] >= threshold].sort_values(
        ["match_probability", "node_l", "node_r"], ascending=[False, True, True])
    accepted = [union.union(a, b) for a, b in zip(links["node_l"], links["node_r"])]
    return _keyed(nodes, union), links[[not ok for ok in accepted]]


def connected_components(nodes: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """Person keys by plain connected components over ``edges`` (node_l, node_r): the baseline's way."""
    union = AgencyConstrainedUnion(dict(zip(nodes["node_id"], nodes["agency_id"])), constrained=False)
    for a, b in zip(edges["node_l"], edges["node_r"]):
        union.union(a, b)
    return _keyed(nodes, union)


def review_pairs(scores: pd.DataFrame, keyed: pd.DataFrame, refused: pd.DataFrame,
                 threshold: float = LINK_THRESHOLD) -> pd.DataFrame:
    """Pairs a person should look at: middle-band pairs left apart, and refused strong links."""
    key = dict(zip(keyed["node_id"], keyed["person_key"]))
    band = scores[(scores["match_probability"] >= SCORE_FLOOR) & (scores["match_probability"] < threshold)]
    band = band[band["node_l"].map(key) != band["node_r"].map(key)].assign(reason=UNCERTAIN)
    pairs = pd.concat([band, refused.assign(reason=AGENCY_CONFLICT)], ignore_index=True)
    pairs["person_key_l"] = pairs["node_l"].map(key)
    pairs["person_key_r"] = pairs["node_r"].map(key)
    return pairs.sort_values(["match_probability", "node_l", "node_r"], ascending=[False, True, True],
                             ignore_index=True)
