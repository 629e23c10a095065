"""The one Dagster ``Definitions`` of the platform (``dagster dev -m orchestration.definitions``)."""
from __future__ import annotations

import dagster as dg

from orchestration.defs.conform.assets import conform_assets
from orchestration.defs.ingestion.assets import feed_assets, ingest_report
from orchestration.defs.linkage.assets import linkage_assets
from orchestration.defs.ml.assets import ml_assets
from orchestration.defs.resources import resources_for_env

# DuckDB allows one writer per file: the pipeline's steps run one after another in one process.
pipeline_job = dg.define_asset_job("kodomo_pipeline", selection=dg.AssetSelection.all(),
                                   executor_def=dg.in_process_executor)



def build_definitions(resources: dict[str, dg.ConfigurableResource]) -> dg.Definitions:
    return dg.Definitions(
        assets=[*feed_assets, ingest_report, *linkage_assets, *conform_assets, *ml_assets],
        jobs=[pipeline_job],
        resources=resources,
        executor=dg.in_process_executor,
    )


defs = build_definitions(resources_for_env())
