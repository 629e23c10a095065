"""The dbt project as Dagster assets: one ``dbt build`` after the linkage.

The linkage asset (Splink, Python) reads the valid tables of the feeds and writes
``linkage.person_links``, which the person-level models read; nothing of dbt comes before it, so the
project (the selector ``pipeline`` of ``dbt_project/selectors.yml``) runs as one definition after it.
One dbt command, not two around the linkage: each costs a start-up of 3-5 s (a delivery's run at
``prefecture`` went from 39-40 s to 35 s), and the models that need no linkage build beside those that do.

dbt sources map onto the assets that write them: ``valid.<feed>`` and ``valid.<feed>_versions`` onto
the ingestion asset ``["valid", feed]``, ``linkage.person_links`` onto ``["linkage", "person_links"]``.
Models keep dagster-dbt's key ``[schema, model]`` (``["marts", "child"]``).
"""

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.conform.project import dbt_project
from orchestration.defs.ingestion.assets import valid_key
from orchestration.defs.resources import KodomoHome, RunOptions, Warehouse

GROUP = "conform"
SELECTOR = "pipeline"  # dbt_project/selectors.yml
progress_log = logging.getLogger("kodomo.progress")


class KodomoDbtTranslator(DagsterDbtTranslator):
    """Sources become the ingestion and linkage assets that write them; every dbt node is in one group."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == "valid":
            # The generated sources file names the feed of each table, its version history included.
            return valid_key(dbt_resource_props["meta"]["feed"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return GROUP


# A feed and its version history are one ingestion asset. The valid sources' tests are left out of the
# selector (the ingestion's blocking contract suite is the check of a valid table); the person_links
# source tests still run and stay observations of the linkage asset.
translator = KodomoDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, home: KodomoHome,
               run: RunOptions) -> Iterator:
    progress_log.info("dbt: building the project")
    yield from dbt.cli(dbt_build_arguments(warehouse, run.retrain), context=context,
                       target_path=dbt_target_path(home)).stream()


def dbt_build_arguments(warehouse: Warehouse, retrain: bool) -> list[str]:
    """The run's ``dbt build`` arguments, before the selection dagster-dbt adds (``--selector pipeline``).

    The profile reads the warehouse file from the ``warehouse_path`` var: the build's file, not the published one.
    With the variables ``prepare_project`` parsed with, dbt parses only what changed (a whole parse is ~5 s).
    A delivery's run (not ``retrain``) leaves out the unit tests: dbt ignores ``--exclude`` beside the selector
    dagster-dbt passes, so the resource type is excluded on its own flag.
    """
    unit_tests = [] if retrain else ["--exclude-resource-type", "unit_test"]
    return ["build", "--vars", json.dumps(warehouse.dbt_variables), *unit_tests]


def dbt_target_path(home: KodomoHome) -> Path:
    """dbt's output for the run (results, compiled SQL), in the build folder, which goes with the run.

    dagster-dbt's default is a new folder per run inside the project, some 18 MB a run that nothing removes. A new
    folder receives the project's saved parse (``prepare_project``'s, with this run's variables).
    """
    return Path(home.build) / "dbt"


def conform_assets(project: DbtProject = dbt_project) -> list[dg.AssetsDefinition]:
    """The dbt definition, read from the project's manifest (``prepare_project`` makes it current)."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        selector=SELECTOR,
        dagster_dbt_translator=translator,
        name="dbt_conform",
    )
    def dbt_conform(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse,
                    home: KodomoHome, run: RunOptions):
        """Staging views of every feed, the seed, the intermediate models and the marts."""
        yield from _dbt_build(context, dbt, warehouse, home, run)

    return [dbt_conform]
