"""Resources, chosen by environment (``KODOMO_ENV``), never by code edits."""
from __future__ import annotations

import os
from contextlib import contextmanager

import dagster as dg
import duckdb

from kodomo.settings import get_settings


class Warehouse(dg.ConfigurableResource):
    """The analytical DuckDB file. One writer at a time: the pipeline runs its steps in one process."""

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
    """Where reports and other run state are written."""

    path: str


def resources_for_env() -> dict[str, dg.ConfigurableResource]:
    settings = get_settings()
    landing = os.environ.get("KODOMO_LANDING", str(settings.home / "landing"))
    return {
        "warehouse": Warehouse(path=str(settings.warehouse_path)),
        "landing": Landing(path=landing),
        "home": KodomoHome(path=str(settings.home)),
    }
