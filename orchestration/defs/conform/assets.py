"""The dbt project as Dagster assets, in two parts around the linkage.

The linkage asset (Splink, Python) writes ``linkage.person_links``, which the person-level models
read, from the person rows of the feeds (the valid tables, or the staging views). One ``@dbt_assets``
over the whole project would sit both upstream and downstream of it once it reads staging, so the
project runs as two definitions split by the dbt selectors of ``dbt_project/selectors.yml``:
``before_linkage`` (staging, seed, pre-link intermediates) and ``after_linkage`` (everything built
on ``linkage.person_links``).

dbt sources map onto the assets that write them: ``valid.<feed>`` and ``valid.<feed>_versions`` onto
the ingestion asset ``["valid", feed]``, ``linkage.person_links`` onto ``["linkage", "person_links"]``.
Models keep dagster-dbt's key ``[schema, model]`` (``["marts", "child"]``).
"""

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from kodomo.dbt_sources import DBT_PROJECT_DIR
from orchestration.defs.ingestion.assets import valid_key
from orchestration.defs.resources import Warehouse

GROUP = "conform"
#: The dbt installed beside this Python: the venv's bin is not always on PATH (e.g. `.venv/bin/kodomo run`).
DBT_EXECUTABLE = os.fspath(Path(sys.executable).with_name("dbt"))
#: What the manifest is parsed from: a change to any of these makes it stale.
_PROJECT_INPUTS = ("dbt_project.yml", "selectors.yml", "profiles.yml", "models", "macros", "seeds", "tests")


class KodomoDbtTranslator(DagsterDbtTranslator):
    """Sources become the ingestion and linkage assets that write them; every dbt node is in one group."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == "valid":
            # The generated sources file names the feed of each table, its version history included.
            return valid_key(dbt_resource_props["meta"]["feed"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return GROUP


def _manifest_is_stale(project: DbtProject) -> bool:
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    for name in _PROJECT_INPUTS:
        path = project.project_dir / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def prepared_project() -> tuple[DbtProject, DbtCliResource]:
    """The dbt project with a current manifest (parsed now if missing or older than the project)."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR)
    cli = DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
    if _manifest_is_stale(project):
        cli.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project, cli


dbt_project, dbt_cli = prepared_project()
# A feed and its version history are one ingestion asset. The valid sources' tests are left out of the
# selectors (the ingestion's blocking contract suite is the check of a valid table); the person_links
# source tests still run and stay observations of the linkage asset.
translator = KodomoDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))


def _dbt_build(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator:
    # The profile reads the warehouse file from DBT_DUCKDB_PATH; the dbt subprocess inherits it.
    os.environ["DBT_DUCKDB_PATH"] = warehouse.path
    yield from dbt_cli.cli(["build"], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    selector="before_linkage",
    dagster_dbt_translator=translator,
    name="dbt_before_linkage",
)
def dbt_before_linkage(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Staging views of every feed, the seed and the intermediate models that need no linkage."""
    yield from _dbt_build(context, warehouse)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    selector="after_linkage",
    dagster_dbt_translator=translator,
    name="dbt_after_linkage",
)
def dbt_after_linkage(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """The person-level intermediate models and the marts, on linkage.person_links."""
    yield from _dbt_build(context, warehouse)


conform_assets = [dbt_before_linkage, dbt_after_linkage]
