"""Running the pipeline in-process for ``kodomo run`` (and the backtest's build), on a Dagster instance.

The instance lives in ``$KODOMO_HOME/dagster`` so runs started from the command line show up in
``dagster dev``. Its storage (SQLite locally, PostgreSQL in production) comes from ``dagster.yaml``, written
from the environment's template in ``deploy/`` with the settings' values filled in, and opened from that
folder explicitly (``DAGSTER_HOME`` is only for the ``dagster dev`` child process).
"""
from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import yaml

from kodomo.ingest.app_deliveries import deliver_app_entries
from kodomo.linkage.decisions import DECISIONS_FILE, write_run_decisions
from kodomo.postgres import ensure_store_schemas
from kodomo.settings import Settings
from kodomo.sharing.case_records import rekey_case_records
from kodomo.sharing.feed_changes import notify_feed_changes
from orchestration.defs.conform.project import prepare_project
from orchestration.lifecycle import RUN_TAG, exclusive_run, publish, published_files

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"
ML_GROUP = "ml"
progress_log = logging.getLogger("kodomo.progress")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def prepare_dagster_home(settings: Settings) -> Path:
    """Write ``dagster.yaml`` for this environment: the template with the PostgreSQL URL in production."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((DEPLOY_DIR / f"dagster.{settings.env}.yaml").read_text(encoding="utf-8"))
    if "postgres" in config.get("storage", {}):
        ensure_store_schemas(settings)
        config["storage"]["postgres"]["postgres_url"] = settings.dagster_postgres_url
    path = home / "dagster.yaml"
    path.touch(mode=0o600)  # the URL may carry a password
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return home


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(prepare_dagster_home(settings)))


def run_pipeline(settings: Settings, landing: Path, selection: dg.AssetSelection | None = None,
                 step_log: Path | None = None, instance: dg.DagsterInstance | None = None,
                 retrain: bool = True) -> None:
    """Build every asset (or ``selection``) from ``landing`` and publish the result; raise on the first failure.

    What caseworkers entered in the app is delivered first, as their agencies' records
    (``kodomo.ingest.app_deliveries``), and the supervisors' linkage decisions are written into the build for the
    linkage to apply (``kodomo.linkage.decisions``). After publishing, case records follow their children's keys
    (``kodomo.sharing.case_records``) and the agencies holding a child are told of its new feed events
    (``kodomo.sharing.feed_changes``).

    Every run reads only the files its feeds' staging stores have not seen. Without ``retrain`` (a delivery's run),
    the run starts from the published state and keeps its models: the linkage model and the champion score the new
    state, nothing is trained or promoted. With nothing published yet, every run trains.

    Holds the home's run lock (``RunRefused`` if another run holds it). ``step_log`` receives the steps' own
    output (dbt's event lines); ``instance`` defaults to the home's persistent one.
    """
    from orchestration.definitions import build_definitions
    from orchestration.defs.resources import pipeline_resources

    with exclusive_run(settings):
        retrain = retrain or not settings.warehouse_path.is_file()
        if not retrain:
            _copy_published_into_build(settings)  # what the run does not rebuild (the training's tables) is kept
            selection = delivery_selection(selection)
        delivered = deliver_app_entries(settings)
        if delivered:
            progress_log.info("app entries delivered: %s", ", ".join(f"{n} {feed}" for feed, n in delivered.items()))
        decided = write_run_decisions(settings, settings.at_home(settings.build_dir).linkage_dir / DECISIONS_FILE)
        if decided:
            progress_log.info("linkage decisions to apply: %d pairs", decided)
        log = open(step_log, "w", encoding="utf-8") if step_log else contextlib.nullcontext()
        with log, contextlib.redirect_stdout(log) if step_log else contextlib.nullcontext():
            resources = pipeline_resources(settings, landing, retrain)
            prepare_project(variables=resources["warehouse"].dbt_variables)
            defs = build_definitions(resources)
            keys = None if selection is None else list(selection.resolve(defs.resolve_asset_graph()))
            with instance or dagster_instance(settings) as dagster:
                defs.resolve_job_def("kodomo_pipeline").execute_in_process(
                    instance=dagster, asset_selection=keys, run_config=QUIET, raise_on_error=True,
                    tags={RUN_TAG: "cli"})
        publish(settings)
        rekey_case_records(settings)
        notify_feed_changes(settings)


def delivery_selection(selection: dg.AssetSelection | None = None) -> dg.AssetSelection:
    """What a delivery's run builds of ``selection`` (default: every asset): all but the training and the promotion."""
    from orchestration.defs.ml.assets import MODEL, PROMOTION

    return (selection or dg.AssetSelection.all()) - dg.AssetSelection.assets(MODEL, PROMOTION)


def run_model_pipeline(settings: Settings, run_id: str | None = None, tags: Mapping[str, str] | None = None,
                       instance: dg.DagsterInstance | None = None) -> None:
    """Retrain on the published state: the ``ml`` group (labels, train and register, the gate, scores, drift) on a
    copy of the published warehouse, published when every step has succeeded (the model page's retraining).

    Holds the home's run lock like ``run_pipeline``; nothing is delivered or ingested. ``run_id`` names the
    Dagster run, so that whoever started it can follow it before it exists.
    """
    from orchestration.definitions import build_definitions
    from orchestration.defs.resources import pipeline_resources

    with exclusive_run(settings):
        _copy_published_into_build(settings)
        resources = pipeline_resources(settings, settings.landing)
        prepare_project(variables=resources["warehouse"].dbt_variables)
        defs = build_definitions(resources)
        keys = list(dg.AssetSelection.groups(ML_GROUP).resolve(defs.resolve_asset_graph()))
        with instance or dagster_instance(settings) as dagster:
            defs.resolve_job_def("kodomo_pipeline").execute_in_process(
                instance=dagster, asset_selection=keys, run_config=QUIET, raise_on_error=True, run_id=run_id,
                tags={RUN_TAG: "cli", **(tags or {})})
        publish(settings)


def _copy_published_into_build(settings: Settings) -> None:
    """The published files as the build's starting point: what the run does not rebuild is published again as is."""
    if not settings.warehouse_path.is_file():
        raise FileNotFoundError(f"no published warehouse at {settings.warehouse_path}: run 'kodomo run' first")
    for published in published_files(settings):
        if published.is_file():
            built = settings.build_dir / published.relative_to(settings.home)
            built.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(published, built)


def build_platform(settings: Settings, landing: Path) -> Path:
    """Every asset but the model's (ingestion, dbt, linkage) from ``landing`` in ``settings.home``.

    On an ephemeral Dagster instance: a backtest or a benchmark is not a platform run. The steps' own output goes
    to the home's run log, as for ``kodomo run``. Returns the warehouse.
    """
    settings.run_log_path.parent.mkdir(parents=True, exist_ok=True)
    with dg.DagsterInstance.ephemeral() as instance:
        run_pipeline(settings, landing, dg.AssetSelection.all() - dg.AssetSelection.groups(ML_GROUP),
                     step_log=settings.run_log_path, instance=instance)
    return settings.warehouse_path
