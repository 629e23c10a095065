"""Where state lives and which stores the platform uses: the one place that reads the environment.

Everything is under ``$KODOMO_HOME`` (default ``./.kodomo``). The environment (``KODOMO_ENV``: ``local``
or ``production``) chooses the stores by configuration: local uses embedded DuckDB / SQLite files,
production points the operational store, MLflow and Dagster at PostgreSQL (``KODOMO_POSTGRES_URL``).
Every URL and path the platform uses is a property here; nothing else reads or writes ``os.environ``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ENVIRONMENTS = ("local", "production")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/kodomo"


def _with_driver(url: str, driver: str) -> str:
    """``postgresql://…`` with an explicit SQLAlchemy driver (a URL naming one already is kept)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+{driver}://{rest}" if scheme in ("postgresql", "postgres") else url


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str
    postgres_url: str
    landing_path: Path | None = None  # the landing folder of ``make dagster`` (``KODOMO_LANDING``)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def warehouse_path(self) -> Path:
        """The published DuckDB warehouse: raw, valid and quarantine tables, the dbt models, linkage, scores."""
        return self.home / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def ingest_report_path(self) -> Path:
        return self.reports_dir / "ingest.json"

    @property
    def run_log_path(self) -> Path:
        return self.reports_dir / "run.log"

    @property
    def landing(self) -> Path:
        """The landing folder: ``KODOMO_LANDING`` or the demo's ``$KODOMO_HOME/landing``."""
        return self.landing_path or self.home / "landing"

    @property
    def linkage_dir(self) -> Path:
        return self.home / "linkage"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def dagster_postgres_url(self) -> str:
        """The same database for Dagster's storage, whose SQL needs the psycopg2 driver.

        SQLAlchemy 2.1 picks psycopg 3 for a bare ``postgresql://`` URL, and dagster-postgres
        sends statements (``NOTIFY run_events, %(id)s``) that only psycopg2 interpolates.
        """
        return _with_driver(self.postgres_url, "psycopg2")

    @property
    def operational_url(self) -> str:
        """SQLAlchemy URL of the operational store (audit log, decisions): psycopg 3 in production."""
        if self.is_production:
            return _with_driver(self.postgres_url, "psycopg")
        return f"sqlite:///{self.home / 'operational.db'}"

    @property
    def mlflow_tracking_uri(self) -> str:
        """MLflow tracking and registry store: PostgreSQL (psycopg 3) in production, SQLite locally."""
        if self.is_production:
            return _with_driver(self.postgres_url, "psycopg")
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts_uri(self) -> str:
        return (self.mlflow_dir / "artifacts").as_uri()

    def at_home(self, home: Path) -> Settings:
        """The same configuration with another home (a backtest's scratch platform, a test's)."""
        return replace(self, home=Path(home).resolve())


def get_settings() -> Settings:
    home = Path(os.environ.get("KODOMO_HOME", ".kodomo")).resolve()
    env = os.environ.get("KODOMO_ENV", "local")
    if env not in ENVIRONMENTS:
        raise ValueError(f"KODOMO_ENV must be 'local' or 'production', not {env!r}")
    postgres_url = os.environ.get("KODOMO_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    landing = os.environ.get("KODOMO_LANDING")
    return Settings(home=home, env=env, postgres_url=postgres_url,
                    landing_path=Path(landing).resolve() if landing else None)
