"""Where state lives. Everything is under ``$KODOMO_HOME`` (default ``./.kodomo``).

The environment (``KODOMO_ENV``: ``local`` or ``production``) chooses the stores by configuration:
local uses embedded DuckDB / SQLite files, production points the operational store, MLflow and
Dagster at PostgreSQL (``KODOMO_POSTGRES_URL``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str
    postgres_url: str

    @property
    def warehouse_path(self) -> Path:
        """DuckDB file with the raw, valid and quarantine tables and the dbt models."""
        return self.home / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def ingest_report_path(self) -> Path:
        return self.reports_dir / "ingest.json"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def dagster_postgres_url(self) -> str:
        """The same database for Dagster's storage, whose SQL needs the psycopg2 driver.

        SQLAlchemy 2.1 picks psycopg 3 for a bare ``postgresql://`` URL, and dagster-postgres
        sends statements (``NOTIFY run_events, %(id)s``) that only psycopg2 interpolates.
        """
        scheme, _, rest = self.postgres_url.partition("://")
        return f"postgresql+psycopg2://{rest}" if scheme in ("postgresql", "postgres") else self.postgres_url


def get_settings() -> Settings:
    home = Path(os.environ.get("KODOMO_HOME", ".kodomo")).resolve()
    env = os.environ.get("KODOMO_ENV", "local")
    if env not in ("local", "production"):
        raise ValueError(f"KODOMO_ENV must be 'local' or 'production', not {env!r}")
    postgres_url = os.environ.get("KODOMO_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/kodomo")
    return Settings(home=home, env=env, postgres_url=postgres_url)
