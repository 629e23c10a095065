"""The one Dagster ``Definitions`` of the platform (``dagster dev -m orchestration.definitions``)."""
from __future__ import annotations

import dagster as dg

from kodomo.settings import get_settings
from orchestration.defs.conform.assets import conform_assets
from orchestration.defs.ingestion.assets import feed_assets, ingest_report
from orchestration.defs.linkage.assets import linkage_assets
from orchestration.defs.ml.assets import ml_assets
from orchestration.defs.resources import pipeline_resources

# DuckDB allows one writer per file: the pipeline's steps run one after another in one process.
pipeline_job = dg.define_asset_job("kodomo_pipeline", selection=dg.AssetSelection.all(),
                                   executor_def=dg.in_process_executor)


def build_definitions(resources: dict[str, dg.ConfigurableResource]) -> dg.Definitions:
    """The pipeline's assets and job; the dbt assets from the project's current manifest."""
    return dg.Definitions(
        assets=[*feed_assets, ingest_report, *linkage_assets, *conform_assets(), *ml_assets],
        jobs=[pipeline_job],
        resources=resources,
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location of ``dagster dev`` (``make dagster``): this environment, the demo's landing.

    Loaded by Dagster when it needs the definitions, not at import. Runs launched from the UI write the build
    folder like ``kodomo run`` but publish nothing: publishing is ``kodomo run``'s.
    """
    settings = get_settings()
    return build_definitions(pipeline_resources(settings, settings.landing))
