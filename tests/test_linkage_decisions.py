"""Supervisors' decisions on review pairs (kodomo/linkage/decisions.py): kept, audited, and applied by every run."""
from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest
from sqlalchemy import select

from kodomo.appdata.access import AccessDenied, load_agencies
from kodomo.appdata.accounts import Account
from kodomo.linkage import link_children
from kodomo.linkage.cluster import DECISION_CONFLICT, cluster_nodes, review_pairs
from kodomo.linkage.decisions import (DECIDE_LINKAGE_PAIR, DECISIONS_FILE, DIFFERENT, PAIR_COLUMNS, SAME,
                                      VIEW_LINKAGE_PAIR, InvalidLinkageDecision, ReviewPair,
                                      decide_pair, decided_links, latest_decisions, open_pair, read_run_decisions,
                                      review_queue, undecided_pairs, write_run_decisions)
from kodomo.operational import CASEWORKER, SUPERVISOR, audit_log, connect, linkage_decisions
from kodomo.settings import get_settings
from orchestration.runner import build_platform


def _nodes(*ids: str) -> pd.DataFrame:
    return pd.DataFrame({"node_id": ids, "agency_id": [i.split("|")[0] for i in ids]})


def _scores(*edges) -> pd.DataFrame:
    return pd.DataFrame(edges, columns=["node_l", "node_r", "match_probability"]).assign(match_weight=0.0)


def _key(keyed: pd.DataFrame, node: str) -> str:
    return keyed.set_index("node_id").loc[node, "person_key"]


def test_different_children_stay_apart_even_through_a_third_record():
    nodes = _nodes("A|1", "B|1", "C|1")
    scores = _scores(("A|1", "B|1", 0.99), ("B|1", "C|1", 0.98))
    keyed, refused = cluster_nodes(nodes, scores, cannot_link=[("A|1", "C|1")])
    assert _key(keyed, "A|1") == _key(keyed, "B|1") != _key(keyed, "C|1")
    assert refused[["node_l", "node_r"]].values.tolist() == [["B|1", "C|1"]]


def test_the_same_child_is_joined_without_a_score_and_despite_the_agency_constraint():
    nodes = _nodes("A|1", "A|2", "B|1")
    keyed, _ = cluster_nodes(nodes, _scores(("A|1", "B|1", 0.7)), must_link=[("A|1", "A|2")])
    assert _key(keyed, "A|1") == _key(keyed, "A|2") != _key(keyed, "B|1")


def test_a_same_child_decision_against_a_different_children_one_goes_back_to_review():
    nodes = _nodes("A|1", "B|1", "C|1")
    scores = _scores(("A|1", "B|1", 0.7))
    keyed, refused = cluster_nodes(nodes, scores, must_link=[("A|1", "B|1"), ("B|1", "C|1")],
                                   cannot_link=[("A|1", "C|1")])
    assert _key(keyed, "A|1") == _key(keyed, "B|1") != _key(keyed, "C|1")
    review = review_pairs(scores, keyed, refused, decided=[("A|1", "B|1"), ("B|1", "C|1"), ("A|1", "C|1")])
    assert review[["node_l", "node_r", "reason"]].values.tolist() == [["B|1", "C|1", DECISION_CONFLICT]]


def test_decided_pairs_are_not_listed_for_review_again():
    nodes = _nodes("A|1", "B|1", "C|1")
    scores = _scores(("A|1", "B|1", 0.7), ("A|1", "C|1", 0.6))
    keyed, refused = cluster_nodes(nodes, scores, cannot_link=[("A|1", "B|1")])
    review = review_pairs(scores, keyed, refused, decided=[("B|1", "A|1")])
    assert review[["node_l", "node_r"]].values.tolist() == [["A|1", "C|1"]]


def test_decisions_become_must_and_cannot_links():
    decisions = pd.DataFrame([("A", "1", "B", "2", SAME), ("A", "3", "C", "4", DIFFERENT)],
                             columns=[*PAIR_COLUMNS, "outcome"])
    assert decided_links(decisions) == ([("A|1", "B|2")], [("A|3", "C|4")])
    assert decided_links(None) == ([], [])


# --- on the scored small world

@pytest.fixture(scope="module")
def world(scored_world, tmp_path_factory):
    """A copy of the scored world's warehouse and linkage model, with a store of its own."""
    home = tmp_path_factory.mktemp("decisionshome")
    shutil.copy(scored_world["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(scored_world["home"] / "linkage", home / "linkage")
    return home


@pytest.fixture
def settings(world, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(world))
    monkeypatch.setenv("KODOMO_ENV", "local")
    return get_settings()


def _supervisor(agency_id: str) -> Account:
    return Account(f"s-{agency_id}", "監督 一郎", agency_id, SUPERVISOR)


def _outside(agencies, pair: ReviewPair) -> str:
    inside = {agencies[r.agency_id].jurisdiction for r in (pair.left, pair.right)}
    return next(a.agency_id for a in agencies.values() if a.jurisdiction and a.jurisdiction not in inside)


def test_a_supervisor_opens_and_decides_a_pair_audited_and_kept(settings):
    engine = connect(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        agencies = load_agencies(con)
        pair = undecided_pairs(con, engine)[0]
        supervisor = _supervisor(pair.right.agency_id)
        assert pair in review_queue(con, engine, supervisor, agencies)
        evidence = open_pair(con, engine, supervisor, pair, agencies)
        assert evidence.left and evidence.right and set(evidence.agreeing) | set(evidence.differing)
        with pytest.raises(AccessDenied):
            open_pair(con, engine, _supervisor(_outside(agencies, pair)), pair, agencies)
        with pytest.raises(AccessDenied):
            decide_pair(engine, Account("w", "職員", pair.left.agency_id, CASEWORKER), pair, SAME, agencies)
        with pytest.raises(InvalidLinkageDecision):
            decide_pair(engine, supervisor, pair, "maybe", agencies)
        decide_pair(engine, supervisor, pair, DIFFERENT, agencies)
        decide_pair(engine, supervisor, pair, SAME, agencies, comment="同じ住所、母の再婚で改姓")
        assert pair not in review_queue(con, engine, supervisor, agencies)
    latest = latest_decisions(engine)
    [row] = latest.to_dict("records")
    left, right = sorted([pair.left, pair.right])
    assert (row["agency_id_l"], row["local_child_id_l"], row["agency_id_r"], row["local_child_id_r"]) == \
        (left.agency_id, left.local_child_id, right.agency_id, right.local_child_id)
    assert row["outcome"] == SAME and row["decided_by"] == supervisor.user_id
    with engine.connect() as c:
        assert c.execute(select(linkage_decisions.c.outcome).order_by(linkage_decisions.c.id)).scalars().all() == \
            [DIFFERENT, SAME]
        actions = c.execute(select(audit_log.c.action).where(audit_log.c.user_id == supervisor.user_id)).scalars().all()
    assert actions.count(VIEW_LINKAGE_PAIR) == 1 and actions.count(DECIDE_LINKAGE_PAIR) == 2
    with pytest.raises(InvalidLinkageDecision):
        decide_pair(engine, supervisor, ReviewPair(left, left, 0.7, 0.0, "uncertain", "P1", "P1"), SAME, agencies)


def test_the_decisions_written_for_a_run_are_read_back(settings, tmp_path):
    path = tmp_path / DECISIONS_FILE
    assert write_run_decisions(settings, path) == len(latest_decisions(connect(settings)))
    decisions = read_run_decisions(path)
    assert list(decisions.columns) == [*PAIR_COLUMNS, "outcome"]
    assert read_run_decisions(tmp_path / "none.csv") is None
    path.write_text('"agency_id_l","outcome"\n"A","same"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="local_child_id_l"):
        read_run_decisions(path)


def _keys(con) -> dict[str, str]:
    return dict(con.execute("select agency_id || '|' || local_child_id, person_key from linkage.person_links")
                .fetchall())


def test_relinking_with_a_retrained_model_keeps_the_decisions(world, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(world / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as con:
        keys = _keys(con)
        uncertain = con.execute("""select agency_id_l, local_child_id_l, agency_id_r, local_child_id_r
                                   from linkage.review_pairs where reason = 'uncertain' order by 1, 2, 3, 4
                                   limit 1""").fetchall()[0]
        linked = con.execute("""select l.agency_id, l.local_child_id, r.agency_id, r.local_child_id
                                from linkage.person_links l join linkage.person_links r using (person_key)
                                where l.agency_id < r.agency_id order by 1, 2, 3, 4 limit 1""").fetchall()[0]
        same_l, same_r = f"{uncertain[0]}|{uncertain[1]}", f"{uncertain[2]}|{uncertain[3]}"
        apart_l, apart_r = f"{linked[0]}|{linked[1]}", f"{linked[2]}|{linked[3]}"
        assert keys[same_l] != keys[same_r] and keys[apart_l] == keys[apart_r]
        decisions = pd.DataFrame([(*uncertain, SAME), (*linked, DIFFERENT)], columns=[*PAIR_COLUMNS, "outcome"])
        link_children(con, tmp_path / "linkage", decisions=decisions)  # trains the model anew
        keys = _keys(con)
        assert keys[same_l] == keys[same_r] and keys[apart_l] != keys[apart_r]
        listed = con.execute("select agency_id_l || '|' || local_child_id_l, agency_id_r || '|' || local_child_id_r "
                             "from linkage.review_pairs").fetchall()
        assert {frozenset(p) for p in listed}.isdisjoint({frozenset((same_l, same_r)), frozenset((apart_l, apart_r))})


def test_a_decided_pair_changes_the_clusters_of_the_next_run(scored_world, tmp_path, monkeypatch):
    """generate (the shared small world), run, decide a pair, run again: the run applies the decision."""
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    settings = get_settings()
    build_platform(settings, scored_world["landing"])
    engine = connect(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        agencies = load_agencies(con)
        pair = next(p for p in undecided_pairs(con, engine) if p.reason == "uncertain")
        assert _keys(con)[pair.left.node_id] != _keys(con)[pair.right.node_id]
    decide_pair(engine, _supervisor(pair.left.agency_id), pair, SAME, agencies)
    build_platform(settings, scored_world["landing"])
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        keys = _keys(con)
        assert keys[pair.left.node_id] == keys[pair.right.node_id]
        assert pair not in undecided_pairs(con, engine)
        person = keys[pair.left.node_id]
        holders = con.execute("select agency_ids from marts.child where person_key = ?", [person]).fetchone()[0]
    assert {pair.left.agency_id, pair.right.agency_id} <= set(holders.split(";"))
