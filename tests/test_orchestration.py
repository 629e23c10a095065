"""The Dagster code location loads and its asset graph has what the platform promises."""
from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from kodomo.contracts import FEEDS
from kodomo.settings import get_settings
from orchestration.definitions import build_definitions
from orchestration.defs.resources import pipeline_resources


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return get_settings().at_home(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def defs(settings) -> dg.Definitions:
    return build_definitions(pipeline_resources(settings, Path("/landing")))


def asset_keys(defs) -> set[dg.AssetKey]:
    return set(defs.resolve_asset_graph().get_all_asset_keys())


def test_every_feed_has_raw_valid_and_quarantine_assets(defs):
    keys = asset_keys(defs)
    for feed in FEEDS:
        for layer in ("raw", "valid", "quarantine"):
            assert dg.AssetKey([layer, feed]) in keys


def test_every_valid_table_has_a_blocking_contract_check(defs):
    graph = defs.resolve_asset_graph()
    for feed in FEEDS:
        checks = graph.get_check_keys_for_assets({dg.AssetKey(["valid", feed])})
        assert {c.name for c in checks} == {"contract_suite"}
        for check in checks:
            assert graph.get_check_spec(check).blocking


def test_feeds_depend_on_the_agency_list(defs):
    graph = defs.resolve_asset_graph()
    for feed in FEEDS[1:]:
        assert dg.AssetKey(["valid", "agencies"]) in graph.get(dg.AssetKey(["valid", feed])).parent_keys


def test_pipeline_job_runs_in_one_process(defs):
    job = defs.resolve_job_def("kodomo_pipeline")
    assert job.executor_def.name == "in_process"


def test_resources_come_from_the_settings_and_write_only_the_build(defs, settings):
    resources = defs.resources
    assert resources["warehouse"].path == str(settings.build_dir / "warehouse.duckdb")
    assert resources["home"].path == str(settings.home) and resources["home"].build == str(settings.build_dir)
    assert resources["landing"].path == "/landing"
    assert Path(resources["warehouse"].path).name == settings.warehouse_path.name  # dbt's catalog is the file stem


def test_the_code_location_loads_lazily(tmp_path, monkeypatch):
    from orchestration import definitions

    monkeypatch.setenv("KODOMO_HOME", str(tmp_path))
    loaded = definitions.defs()  # what `dagster dev` calls; importing the module built nothing
    assert loaded.resources["warehouse"].path == str(tmp_path.resolve() / "build" / "warehouse.duckdb")
