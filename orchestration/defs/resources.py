"""The pipeline's resources, built once from ``Settings`` (``pipeline_resources``): nothing here reads the environment.

A run writes the next state into the build folder (``Settings.build_dir``) and ``orchestration.lifecycle``
publishes it when every step has succeeded: the ``Warehouse`` resource is the build's DuckDB file, never the
published one that the app and the commands read.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from kodomo.settings import Settings
from orchestration.defs.conform.project import DBT_EXECUTABLE, PipelineDbtCli, dbt_project


class Warehouse(dg.ConfigurableResource):
    """The analytical DuckDB file being built. One writer at a time: the pipeline runs its steps in one process."""

    path: str
    memory_limit: str  # DuckDB's own cap (beyond it, it spills to disk): what bounds a large run's memory

    @contextmanager
    def connect(self, read_only: bool = False):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            yield con
        finally:
            con.close()

    @property
    def dbt_variables(self) -> dict[str, str]:
        """The ``--vars`` of dbt's runs on this file (``dbt_project/profiles.yml`` reads them)."""
        return {"warehouse_path": self.path, "memory_limit": self.memory_limit}


class Landing(dg.ConfigurableResource):
    """The landing folder that agencies deliver into (source-feeds.md §1)."""

    path: str


class KodomoHome(dg.ConfigurableResource):
    """The platform's home and the run's build folder inside it.

    ``path`` holds what outlives a run (the archive of delivered files, MLflow, Dagster); ``build`` is where
    the run writes what it publishes at the end, laid out as in the home (``reports/ingest.json``,
    ``linkage/model.json``; the warehouse is the ``Warehouse`` resource).
    """

    path: str
    build: str


class RunOptions(dg.ConfigurableResource):
    """What a run does beyond bringing the platform up to date with the landing.

    ``retrain``: a full run (``kodomo run``, the nightly schedule) trains the linkage model and the risk model again;
    a delivery's run (``kodomo run --incremental``, the landing sensor) reuses the published ones and leaves out dbt's
    unit tests, which test the models' SQL (unchanged by a delivery), not the data.
    """

    retrain: bool


def pipeline_resources(settings: Settings, landing: Path, retrain: bool = True) -> dict[str, dg.ConfigurableResource]:
    build = settings.at_home(settings.build_dir)
    return {
        "run": RunOptions(retrain=retrain),
        "warehouse": Warehouse(path=str(build.warehouse_path), memory_limit=settings.duckdb_memory_limit),
        "landing": Landing(path=str(landing)),
        "home": KodomoHome(path=str(settings.home), build=str(build.home)),
        "dbt": PipelineDbtCli(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    }
