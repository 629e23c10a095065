"""The Dagster code location loads and its asset graph has what the platform promises."""
from __future__ import annotations

import dagster as dg

from kodomo.contracts import FEEDS
from orchestration.definitions import defs


def asset_keys() -> set[dg.AssetKey]:
    return set(defs.resolve_asset_graph().get_all_asset_keys())


def test_every_feed_has_raw_valid_and_quarantine_assets():
    keys = asset_keys()
    for feed in FEEDS:
        for layer in ("raw", "valid", "quarantine"):
            assert dg.AssetKey([layer, feed]) in keys


def test_every_valid_table_has_a_blocking_contract_check():
    graph = defs.resolve_asset_graph()
    for feed in FEEDS:
        checks = graph.get_check_keys_for_assets({dg.AssetKey(["valid", feed])})
        assert {c.name for c in checks} == {"contract_suite"}
        for check in checks:
            assert graph.get_check_spec(check).blocking


def test_feeds_depend_on_the_agency_list():
    graph = defs.resolve_asset_graph()
    for feed in FEEDS[1:]:
        assert dg.AssetKey(["valid", "agencies"]) in graph.get(dg.AssetKey(["valid", feed])).parent_keys


def test_pipeline_job_runs_in_one_process():
    job = defs.resolve_job_def("kodomo_pipeline")
    assert job.executor_def.name == "in_process"
