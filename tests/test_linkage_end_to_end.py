"""A generated `small` world, ingested and linked: pairwise precision and recall against the truth."""
from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest

from kodomo.cli import main
from kodomo.linkage import export_links, link_children
from kodomo.linkage.evaluate import evaluate, read_truth
from kodomo.settings import get_settings
from orchestration.runner import run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def linked_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("linkworld")
    landing = root / "landing"
    assert main(["generate", "--out", str(landing), "--scale", "small", "--seed", "3"]) == 0
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        run_pipeline(get_settings(), landing, dg.AssetSelection.groups("ingestion"))
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    link_children(con, home / "linkage")
    yield con, root / "landing-truth"
    con.close()


def test_precision_and_recall_reach_the_target(linked_world):
    con, truth = linked_world
    scores = evaluate(con, truth)
    linkage, baseline = scores["linkage"], scores["baseline_exact_name_and_birth_date"]
    assert linkage["precision"] >= 0.98, scores["errors"]
    assert linkage["recall"] >= 0.98, scores["errors"]
    assert linkage["f1"] > baseline["f1"]


def test_every_child_record_of_the_truth_is_exported_once(linked_world, tmp_path):
    con, truth = linked_world
    out = tmp_path / "links.csv"
    export_links(con, out)
    exported = pd.read_csv(out, dtype=str)
    expected = read_truth(truth)
    assert not exported.duplicated(["agency_id", "local_child_id"]).any()
    assert set(map(tuple, exported[["agency_id", "local_child_id"]].values)) == set(
        map(tuple, expected[["agency_id", "local_child_id"]].values))

