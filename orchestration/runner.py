"""Running the pipeline job in-process for ``kodomo run``, on a persistent Dagster instance.

The instance lives in ``$KODOMO_HOME/dagster`` so runs started from the command line show up in
``dagster dev``. Its storage (SQLite locally, PostgreSQL in production) comes from ``dagster.yaml``,
written from the environment's template.
"""
from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from kodomo.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    template = (DEPLOY_DIR / f"dagster.{settings.env}.yaml").read_text(encoding="utf-8")
    (home / "dagster.yaml").write_text(template, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["KODOMO_DAGSTER_POSTGRES_URL"] = settings.dagster_postgres_url
    return home


def run_pipeline(settings: Settings, landing: Path, group: str | None = None) -> dg.ExecuteInProcessResult:
    """Materialise every asset (or one asset group) from ``landing``; raise on the first failed step."""
    prepare_dagster_home(settings)
    os.environ["KODOMO_LANDING"] = str(landing)
    from orchestration.definitions import build_definitions
    from orchestration.defs.resources import resources_for_env

    defs = build_definitions(resources_for_env())  # resources of this home and landing, not the import's

    job = defs.resolve_job_def("kodomo_pipeline")
    selection = None
    if group is not None:
        selection = list(dg.AssetSelection.groups(group).resolve(defs.resolve_asset_graph()))
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            asset_selection=selection,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=True,
        )
