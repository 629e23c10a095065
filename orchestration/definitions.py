"""The one Dagster ``Definitions`` of the platform (``dagster dev -m orchestration.definitions``)."""
from __future__ import annotations

import dagster as dg

from kodomo.settings import Settings, get_settings
from orchestration.defs.conform.assets import conform_assets
from orchestration.defs.ingestion.assets import feed_assets, ingest_report
from orchestration.defs.linkage.assets import linkage_assets
from orchestration.defs.ml.assets import ml_assets
from orchestration.defs.operations.automation import automation, platform_run
from orchestration.defs.resources import pipeline_resources

# DuckDB allows one writer per file: the pipeline's steps run one after another in one process.
pipeline_job = dg.define_asset_job("kodomo_pipeline", selection=dg.AssetSelection.all(),
                                   executor_def=dg.in_process_executor)


def build_definitions(resources: dict[str, dg.ConfigurableResource],
                      settings: Settings | None = None) -> dg.Definitions:
    """The pipeline's assets and job; the dbt assets from the project's current manifest. With ``settings``, also
    the platform's run with its nightly schedule and landing sensor (the code location of the services)."""
    nightly, landing_sensor = automation(settings) if settings else (None, None)
    return dg.Definitions(
        assets=[*feed_assets, ingest_report, *linkage_assets, *conform_assets(), *ml_assets],
        jobs=[pipeline_job, *([platform_run] if settings else [])],
        schedules=[nightly] if nightly else [],
        sensors=[landing_sensor] if landing_sensor else [],
        resources=resources,
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location of ``dagster dev`` (``make dagster``) and of the services (``make serve``): this
    environment, its landing.

    Loaded by Dagster when it needs the definitions, not at import. Asset runs launched from the UI write the build
    folder but publish nothing; the platform run (``kodomo_platform_run``: the schedule's, the sensor's) publishes,
    as ``kodomo run`` does.
    """
    settings = get_settings()
    return build_definitions(pipeline_resources(settings, settings.landing), settings)
