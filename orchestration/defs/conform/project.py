"""The dbt project as dagster-dbt sees it, and its preparation (``dbt parse``) when its manifest is stale.

Preparing is an explicit step: ``make setup`` and the start of every pipeline run call ``prepare_project``;
importing this module (or any other) never runs dbt.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from kodomo.dbt_sources import DBT_PROJECT_DIR, project_digest
from ml.online_features import ensure_compiled

#: The dbt installed beside this Python: the venv's bin is not always on PATH (e.g. `.venv/bin/kodomo run`).
DBT_EXECUTABLE = os.fspath(Path(sys.executable).with_name("dbt"))
#: What the manifest is parsed from: a change to any of these makes it stale.
_PROJECT_INPUTS = ("dbt_project.yml", "selectors.yml", "profiles.yml", "models", "macros", "seeds", "tests")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


class PipelineDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two costs the pipeline never uses, about 10 CPU-seconds of every run.

    dagster-dbt asks the dbt executable for its version (``dbt --version``, a dbt start-up) and loads dbt and its
    DuckDB adapter into this process, only to read column metadata, which the pipeline does not fetch. The
    executable is this venv's, so the installed dbt-core's version is its version; without an adapter,
    dagster-dbt leaves column metadata out (``dagster_dbt.core.dbt_event_iterator``).
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args) -> None:
        return None


def _stamp(project: DbtProject) -> Path:
    """What the manifest was last parsed from (by ``prepare_project``), beside it."""
    return project.manifest_path.with_name("manifest.inputs.json")


def manifest_is_stale(project: DbtProject = dbt_project, variables: Mapping[str, str] | None = None) -> bool:
    """True unless ``prepare_project`` wrote the manifest from the project's files as they are now (and, if
    ``variables`` are given, with them).

    Contents, not modification times: a parse that began before a file changed, or a manifest written by
    another dbt command, would look newer than the files it does not reflect.
    """
    if not project.manifest_path.exists() or not _stamp(project).exists():
        return True
    stamp = json.loads(_stamp(project).read_text(encoding="utf-8"))
    current = project_digest(_PROJECT_INPUTS, project.project_dir)
    if variables is not None and stamp.get("variables") != dict(variables):
        return True
    return (stamp["inputs"], stamp["manifest_mtime_ns"]) != (current, project.manifest_path.stat().st_mtime_ns)


def prepare_project(project: DbtProject = dbt_project, variables: Mapping[str, str] | None = None) -> None:
    """Parse the project into ``target/manifest.json`` unless the manifest is current (``manifest_is_stale``),
    and compile the online features' SQL unless it is current (``ml.online_features``).

    What dagster-dbt's ``DbtProject`` preparer does (``dbt parse --quiet``), with the venv's dbt and only
    when needed: a parse takes seconds, and every run prepares. A run passes the ``--vars`` its dbt commands
    will use: dbt parses again in every command whose variables (or profile, which reads them) differ from
    those of the saved parse, and the saved parse is copied into each command's target.
    """
    if manifest_is_stale(project, variables):
        # Before parsing: a file changed meanwhile makes the next run parse again.
        inputs = project_digest(_PROJECT_INPUTS, project.project_dir)
        with_variables = ["--vars", json.dumps(dict(variables))] if variables is not None else []
        PipelineDbtCli(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet", *with_variables], target_path=project.target_path).wait()
        _stamp(project).write_text(json.dumps(
            {"inputs": inputs, "manifest_mtime_ns": project.manifest_path.stat().st_mtime_ns,
             "variables": None if variables is None else dict(variables)}), encoding="utf-8")
    ensure_compiled()


if __name__ == "__main__":  # `make setup`
    prepare_project()
