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
from dagster_dbt import DbtCliResource

from kodomo.settings import Settings
from orchestration.defs.conform.project import DBT_EXECUTABLE, dbt_project


class Warehouse(dg.ConfigurableResource):
    """The analytical DuckDB file being built. One writer at a time: the pipeline runs its steps in one process."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()


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


def pipeline_resources(settings: Settings, landing: Path) -> dict[str, dg.ConfigurableResource]:
    build = settings.at_home(settings.build_dir)
    return {
        "warehouse": Warehouse(path=str(build.warehouse_path)),
        "landing": Landing(path=str(landing)),
        "home": KodomoHome(path=str(settings.home), build=str(build.home)),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    }
