"""Supervisors decide the pairs the linkage is unsure of; every later run applies the decisions.

The linkage leaves two kinds of pairs of child records for a person (``linkage.review_pairs``): pairs scored in the
middle band, and strong links refused because they would give one child two IDs of one agency. A supervisor of a
jurisdiction holding either record sees both records side by side with the evidence (the fields that agree, the
match weight) and decides: the same child, or different children. The decision is kept in the operational store
(``linkage_decisions``, append-only: a changed decision is a new row, the latest counts) by the pair's records
(agency and local child ID), which outlive any run's person keys.

Each run reads the latest decisions (``write_run_decisions`` before the run, ``read_run_decisions`` in the
linkage asset) and clusters under them (``kodomo.linkage.cluster``): "same" is a must-link and "different" a
cannot-link, however a retrained model scores the pair. A decided pair is no longer listed for review; a child
with a pair still listed and not decided since is flagged in search results (``undecided_person_keys``).

Viewing the queue, opening a pair and deciding write their audit rows first (``kodomo.operational.audited``).
"""
from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
from sqlalchemy import Engine, func, insert, select

from kodomo.appdata.access import AccessDenied, Agency, in_jurisdiction, require_role
from kodomo.linkage.records import NODE_SEPARATOR
from kodomo.operational import LINKAGE_OUTCOMES, SUPERVISOR, AccessEntry, audited, connect, linkage_decisions
from kodomo.settings import Settings

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

SAME, DIFFERENT = LINKAGE_OUTCOMES
PAIR_COLUMNS = ("agency_id_l", "local_child_id_l", "agency_id_r", "local_child_id_r")
#: The decisions a run applies, written into the run's build folder before it starts.
DECISIONS_FILE = "decisions.csv"
VIEW_LINKAGE_QUEUE, VIEW_LINKAGE_PAIR, DECIDE_LINKAGE_PAIR = "view_linkage_queue", "view_linkage_pair", "decide_linkage_pair"
REVIEW_PAIRS, RECORDS, LINKS = "linkage.review_pairs", "linkage.person_records", "linkage.person_links"
#: The fields compared between the two records of a pair, as a supervisor reads them.
EVIDENCE_FIELDS = ("name", "kana", "birth_date", "sex", "place")


class InvalidLinkageDecision(ValueError):
    """A decision that names no known outcome, or a pair of one record: never stored."""


@dataclass(frozen=True, order=True)
class ChildRecord:
    """One agency's record of a child: the linkage's node."""
    agency_id: str
    local_child_id: str

    @property
    def node_id(self) -> str:
        return f"{self.agency_id}{NODE_SEPARATOR}{self.local_child_id}"


@dataclass(frozen=True)
class ReviewPair:
    left: ChildRecord
    right: ChildRecord
    match_probability: float | None
    match_weight: float | None
    reason: str                        # cluster.UNCERTAIN / AGENCY_CONFLICT / DECISION_CONFLICT
    person_key_l: str
    person_key_r: str


@dataclass(frozen=True)
class RecordVariant:
    name: str
    kana: str
    birth_date: dt.date | None
    sex: str | None
    places: tuple[str, ...]


@dataclass(frozen=True)
class PairEvidence:
    """Both records of a pair side by side: each record's variants, and which fields agree (any variant of one
    with any variant of the other) or differ."""
    pair: ReviewPair
    left: tuple[RecordVariant, ...]
    right: tuple[RecordVariant, ...]
    agreeing: tuple[str, ...]          # of EVIDENCE_FIELDS
    differing: tuple[str, ...]


def ordered(a: ChildRecord, b: ChildRecord) -> tuple[ChildRecord, ChildRecord]:
    """A pair in the store's order: the smaller record first."""
    if a == b:
        raise InvalidLinkageDecision(f"a pair needs two records, not {a.node_id} twice")
    return (a, b) if a < b else (b, a)


def latest_decisions(engine: Engine) -> pd.DataFrame:
    """The latest decision on each pair: ``PAIR_COLUMNS``, ``outcome``, ``decided_by``, ``decided_at``."""
    pair = [linkage_decisions.c[c] for c in PAIR_COLUMNS]
    latest = select(func.max(linkage_decisions.c.id)).group_by(*pair).scalar_subquery()
    query = (select(*pair, linkage_decisions.c.outcome, linkage_decisions.c.decided_by, linkage_decisions.c.decided_at)
             .where(linkage_decisions.c.id.in_(latest)).order_by(*pair))
    with engine.connect() as con:
        rows = con.execute(query).all()
    return pd.DataFrame(rows, columns=[*PAIR_COLUMNS, "outcome", "decided_by", "decided_at"])


def decided_links(decisions: pd.DataFrame | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(must-link, cannot-link) node ID pairs of the decisions, in the decisions' order."""
    if decisions is None or decisions.empty:
        return [], []
    nodes = [(f"{al}{NODE_SEPARATOR}{ll}", f"{ar}{NODE_SEPARATOR}{lr}")
             for al, ll, ar, lr in decisions[list(PAIR_COLUMNS)].itertuples(index=False)]
    same = (decisions["outcome"] == SAME).tolist()
    return [n for n, s in zip(nodes, same) if s], [n for n, s in zip(nodes, same) if not s]


def _store_exists(settings: Settings) -> bool:
    return settings.is_production or (settings.home / "operational.db").is_file()


def write_run_decisions(settings: Settings, path: Path) -> int:
    """Write the latest decisions for a run to apply (``PAIR_COLUMNS`` and ``outcome``); the number written.
    Nothing is written when there is no store yet (nobody has decided anything)."""
    if not _store_exists(settings):
        return 0
    engine = connect(settings)
    try:
        decisions = latest_decisions(engine)
    finally:
        engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True)
    decisions[[*PAIR_COLUMNS, "outcome"]].to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
    return len(decisions)


def read_run_decisions(path: Path) -> pd.DataFrame | None:
    """The decisions written for this run, or None when there are none."""
    if not path.is_file():
        return None
    decisions = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in (*PAIR_COLUMNS, "outcome") if c not in decisions.columns]
    if missing:
        raise ValueError(f"{path}: columns {', '.join(missing)} missing")
    unknown = sorted(set(decisions["outcome"]) - set(LINKAGE_OUTCOMES))
    if unknown:
        raise ValueError(f"{path}: outcome must be one of {', '.join(LINKAGE_OUTCOMES)}, not {', '.join(unknown)}")
    return decisions


def _pairs(con: duckdb.DuckDBPyConnection) -> list[ReviewPair]:
    rows = con.execute(f"""select {', '.join(PAIR_COLUMNS)}, match_probability, match_weight, reason,
                                  person_key_l, person_key_r
                           from {REVIEW_PAIRS} order by match_probability desc nulls last, 1, 2, 3, 4""").fetchall()
    return [ReviewPair(ChildRecord(al, ll), ChildRecord(ar, lr), None if pd.isna(p) else float(p),
                       None if pd.isna(w) else float(w), reason, kl, kr)
            for al, ll, ar, lr, p, w, reason, kl, kr in rows]


def _decided(engine: Engine) -> set[tuple[ChildRecord, ChildRecord]]:
    return {(ChildRecord(al, ll), ChildRecord(ar, lr))
            for al, ll, ar, lr in latest_decisions(engine)[list(PAIR_COLUMNS)].itertuples(index=False)}


def undecided_pairs(con: duckdb.DuckDBPyConnection, engine: Engine) -> list[ReviewPair]:
    """The last run's review pairs not decided since, most probable first."""
    decided = _decided(engine)
    return [p for p in _pairs(con) if ordered(p.left, p.right) not in decided]


def undecided_person_keys(con: duckdb.DuckDBPyConnection, engine: Engine) -> set[str]:
    """The children (person keys of the last run) with a review pair nobody has decided yet."""
    return {key for p in undecided_pairs(con, engine) for key in (p.person_key_l, p.person_key_r)}


def _require_pair_in_jurisdiction(user: Account, pair: ReviewPair, agencies: Mapping[str, Agency]) -> None:
    if not any(in_jurisdiction(user, r.agency_id, agencies) for r in (pair.left, pair.right)):
        raise AccessDenied(f"pair {pair.left.node_id} / {pair.right.node_id}: neither record is held in your "
                           "jurisdiction")


def review_queue(con: duckdb.DuckDBPyConnection, engine: Engine, user: Account,
                 agencies: Mapping[str, Agency]) -> list[ReviewPair]:
    """The undecided pairs with a record held in the supervisor's jurisdiction (no names). Audited first."""
    require_role(user, SUPERVISOR)
    pairs = [p for p in undecided_pairs(con, engine)
             if any(in_jurisdiction(user, r.agency_id, agencies) for r in (p.left, p.right))]
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_LINKAGE_QUEUE, user.agency_id,
                                    detail=f"{len(pairs)} pairs"))
    return pairs


def find_pair(con: duckdb.DuckDBPyConnection, left: ChildRecord, right: ChildRecord) -> ReviewPair:
    """The last run's review pair of these two records."""
    left, right = ordered(left, right)
    for pair in _pairs(con):
        if ordered(pair.left, pair.right) == (left, right):
            return pair
    raise LookupError(f"no review pair {left.node_id} / {right.node_id} in the last run")


def _variants(con: duckdb.DuckDBPyConnection, record: ChildRecord) -> tuple[RecordVariant, ...]:
    rows = con.execute(f"""select child_name, child_kana, birth_date, sex, places from {RECORDS}
                           where agency_id = ? and local_child_id = ? order by child_name, child_kana, birth_date""",
                       [record.agency_id, record.local_child_id]).fetchall()
    return tuple(RecordVariant(name, kana, dt.date.fromisoformat(str(birth)[:10]) if birth else None, sex,
                               tuple(places or ())) for name, kana, birth, sex, places in rows)


def _compared(con: duckdb.DuckDBPyConnection, pair: ReviewPair) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Fields that agree on some pair of variants (folded forms, as the linkage compares them), and those that
    differ on all."""
    row = con.execute(f"""
        select bool_or(l.full_name = r.full_name), bool_or(l.full_kana = r.full_kana),
               bool_or(l.birth_date = r.birth_date), bool_or(l.sex = r.sex),
               bool_or(list_has_any(l.places, r.places))
        from {RECORDS} l, {RECORDS} r
        where l.agency_id = $al and l.local_child_id = $ll and r.agency_id = $ar and r.local_child_id = $lr""",
                      {"al": pair.left.agency_id, "ll": pair.left.local_child_id,
                       "ar": pair.right.agency_id, "lr": pair.right.local_child_id}).fetchone()
    return (tuple(f for f, same in zip(EVIDENCE_FIELDS, row) if same is True),
            tuple(f for f, same in zip(EVIDENCE_FIELDS, row) if same is False))


def open_pair(con: duckdb.DuckDBPyConnection, engine: Engine, user: Account, pair: ReviewPair,
              agencies: Mapping[str, Agency]) -> PairEvidence:
    """Both records of a pair with the evidence, for a supervisor of a jurisdiction holding one. Audited first."""
    require_role(user, SUPERVISOR)
    _require_pair_in_jurisdiction(user, pair, agencies)
    agreeing, differing = _compared(con, pair)
    evidence = PairEvidence(pair, _variants(con, pair.left), _variants(con, pair.right), agreeing, differing)
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_LINKAGE_PAIR, user.agency_id,
                                    person_key=pair.person_key_l,
                                    detail=f"{pair.left.node_id};{pair.right.node_id}"))
    return evidence


def decide_pair(engine: Engine, user: Account, pair: ReviewPair, outcome: str, agencies: Mapping[str, Agency],
                comment: str | None = None) -> int:
    """Record a supervisor's decision on a pair (stored with its audit row, in one transaction); its ID."""
    require_role(user, SUPERVISOR)
    if outcome not in LINKAGE_OUTCOMES:
        raise InvalidLinkageDecision(f"outcome must be one of {', '.join(LINKAGE_OUTCOMES)}, not {outcome!r}")
    _require_pair_in_jurisdiction(user, pair, agencies)
    left, right = ordered(pair.left, pair.right)
    with audited(engine) as transaction:
        stored = transaction.con.execute(insert(linkage_decisions).values(
            decided_at=transaction.now, agency_id_l=left.agency_id, local_child_id_l=left.local_child_id,
            agency_id_r=right.agency_id, local_child_id_r=right.local_child_id, outcome=outcome,
            decided_by=user.user_id, agency_id=user.agency_id, match_probability_shown=pair.match_probability,
            comment=(comment or "").strip() or None))
        [decision_id] = stored.inserted_primary_key
        transaction.log(AccessEntry(user.user_id, user.role, DECIDE_LINKAGE_PAIR, user.agency_id,
                                    person_key=pair.person_key_l,
                                    detail=f"{left.node_id};{right.node_id};{outcome};decision {decision_id}"))
    return decision_id
