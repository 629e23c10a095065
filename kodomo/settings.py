"""Where state lives and which stores the platform uses: the one place that reads the environment.

Everything is under ``$KODOMO_HOME`` (default ``./.kodomo``). The environment (``KODOMO_ENV``: ``local``
or ``production``) chooses the stores by configuration: local uses embedded DuckDB / SQLite files,
production points the operational store, MLflow and Dagster at PostgreSQL (``KODOMO_POSTGRES_URL``).
Every URL and path the platform uses is a property here; nothing else reads or writes ``os.environ``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ENVIRONMENTS = ("local", "production")
# How staff sign in to the app: local accounts (kodomo.appdata.accounts) or the deployment's OpenID Connect provider
# through Streamlit's own ``st.login`` (configured in ``.streamlit/secrets.toml`` under ``[auth]``).
AUTH_MODES = ("local", "oidc")
# Which engine links child records (``KODOMO_LINKAGE_ENGINE``): DuckDB in process (a prefecture), or Spark
# (national linkage across prefectures; README, "Scale").
LINKAGE_ENGINES = ("duckdb", "spark")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/kodomo"


# In production the three stores share one database, each in its own schema: each keeps its own migration table
# (``alembic_version``), so they must not meet. The operational store is in the database's default schema.
MLFLOW_SCHEMA, DAGSTER_SCHEMA = "mlflow", "dagster"


def in_schema(url: str, schema: str) -> str:
    """The URL with the connection's ``search_path`` set to ``schema`` (libpq ``options``)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def with_driver(url: str, driver: str) -> str:
    """``postgresql://…`` with an explicit SQLAlchemy driver (a URL naming one already is kept)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+{driver}://{rest}" if scheme in ("postgresql", "postgres") else url


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str
    postgres_url: str
    landing_path: Path | None = None  # the landing folder of ``make dagster`` (``KODOMO_LANDING``)
    secret: str | None = field(default=None, repr=False)  # ``KODOMO_SECRET``; never printed
    auth_mode: str = "local"  # ``KODOMO_AUTH``: one of AUTH_MODES
    # ``make serve``: the services' ports (``KODOMO_DAGSTER_PORT``, ``KODOMO_MLFLOW_PORT``, ``KODOMO_APP_PORT``) and
    # how often the landing sensor looks for new deliveries (``KODOMO_SENSOR_SECONDS``).
    dagster_port: int = 3000
    mlflow_port: int = 5000
    app_port: int = 8501
    sensor_seconds: int = 60
    linkage_engine: str = "duckdb"  # one of LINKAGE_ENGINES
    # DuckDB's memory cap for the pipeline's warehouse work (``KODOMO_DUCKDB_MEMORY``, e.g. ``3GB``); beyond it DuckDB
    # spills to disk, so a run's peak memory does not grow with the warehouse.
    duckdb_memory_limit: str = "3GB"
    # Processes that read and check delivered files while the ingestion stages them (``KODOMO_INGEST_WORKERS``,
    # by default one per core). A feed with few new files is checked in the ingestion's own process.
    ingest_workers: int = 1

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
    def logs_dir(self) -> Path:
        """The services' logs under ``make serve``, one file per service."""
        return self.home / "logs"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def dagster_postgres_url(self) -> str:
        """The same database (schema ``dagster``) for Dagster's storage, whose SQL needs the psycopg2 driver.

        SQLAlchemy 2.1 picks psycopg 3 for a bare ``postgresql://`` URL, and dagster-postgres
        sends statements (``NOTIFY run_events, %(id)s``) that only psycopg2 interpolates.
        """
        return in_schema(with_driver(self.postgres_url, "psycopg2"), DAGSTER_SCHEMA)

    @property
    def operational_url(self) -> str:
        """SQLAlchemy URL of the operational store (audit log, decisions): psycopg 3 in production."""
        if self.is_production:
            return with_driver(self.postgres_url, "psycopg")
        return f"sqlite:///{self.home / 'operational.db'}"

    @property
    def mlflow_tracking_uri(self) -> str:
        """MLflow tracking and registry store: PostgreSQL (psycopg 3) in production, SQLite locally."""
        if self.is_production:
            return in_schema(with_driver(self.postgres_url, "psycopg"), MLFLOW_SCHEMA)
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts_uri(self) -> str:
        return (self.mlflow_dir / "artifacts").as_uri()

    def at_home(self, home: Path) -> Settings:
        """The same configuration with another home (a backtest's scratch platform, a test's)."""
        return replace(self, home=Path(home).resolve())

    @property
    def operational_app_role(self) -> str:
        """The PostgreSQL role the app and pipeline use for the operational store: it may only read and insert."""
        return "kodomo_app"

    @property
    def operational_app_url(self) -> str:
        """The operational store as the app and pipeline connect to it: in production as
        ``operational_app_role`` (its password, if the server asks, from libpq's ~/.pgpass), while
        ``operational_url`` is the owner's, for migrations; locally the same SQLite file."""
        if not self.is_production:
            return self.operational_url
        scheme, _, rest = self.operational_url.partition("://")
        return f"{scheme}://{self.operational_app_role}@{rest.rpartition('@')[2]}"

    @property
    def feed_events_path(self) -> Path:
        """The feed events of the last publication, to tell the holding agencies what is new after the next run."""
        return self.home / "feed_events.parquet"

    @property
    def archive_dir(self) -> Path:
        """Every file the ingestion has read, kept once and never changed: the landing is only a drop zone."""
        return self.home / "archive"

    @property
    def staging_dir(self) -> Path:
        """Each feed's staging store: every archived file's checked rows, so that a run reads only new files."""
        return self.home / "staging"

    @property
    def build_dir(self) -> Path:
        """Where a run builds the next state (warehouse, ingest report, linkage model) before publishing it."""
        return self.home / "build"

    @property
    def run_lock_path(self) -> Path:
        """Held by the running ``kodomo run``; names its process (group) for the run after a killed one."""
        return self.home / "run.lock"

    @property
    def app_secret(self) -> bytes:
        """The deployment's secret (``KODOMO_SECRET``, 32 characters or more), which peppers account passwords:
        production refuses to run without one; locally a fixed value stands in (synthetic data only)."""
        if self.secret is None and not self.is_production:
            return b"kodomo-local-only-not-a-secret"
        if self.secret is None or len(self.secret) < 32:
            raise ValueError("KODOMO_SECRET must be set to 32 characters or more"
                             + (" in production" if self.is_production else "")
                             + " (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return self.secret.encode()


def get_settings() -> Settings:
    home = Path(os.environ.get("KODOMO_HOME", ".kodomo")).resolve()
    env = os.environ.get("KODOMO_ENV", "local")
    if env not in ENVIRONMENTS:
        raise ValueError(f"KODOMO_ENV must be 'local' or 'production', not {env!r}")
    postgres_url = os.environ.get("KODOMO_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    landing = os.environ.get("KODOMO_LANDING")
    auth_mode = os.environ.get("KODOMO_AUTH", "local")
    if auth_mode not in AUTH_MODES:
        raise ValueError(f"KODOMO_AUTH must be 'local' or 'oidc', not {auth_mode!r}")
    linkage_engine = os.environ.get("KODOMO_LINKAGE_ENGINE", "duckdb")
    if linkage_engine not in LINKAGE_ENGINES:
        raise ValueError(f"KODOMO_LINKAGE_ENGINE must be 'duckdb' or 'spark', not {linkage_engine!r}")
    return Settings(auth_mode=auth_mode, linkage_engine=linkage_engine,
                    duckdb_memory_limit=os.environ.get("KODOMO_DUCKDB_MEMORY", "3GB"),
                    home=home, env=env, postgres_url=postgres_url,
                    landing_path=Path(landing).resolve() if landing else None,
                    secret=os.environ.get("KODOMO_SECRET") or None,
                    dagster_port=_number("KODOMO_DAGSTER_PORT", 3000), mlflow_port=_number("KODOMO_MLFLOW_PORT", 5000),
                    app_port=_number("KODOMO_APP_PORT", 8501), sensor_seconds=_number("KODOMO_SENSOR_SECONDS", 60),
                    ingest_workers=_number("KODOMO_INGEST_WORKERS", os.cpu_count() or 1))


def _number(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) == 0:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)
