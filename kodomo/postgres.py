"""The production database's schemas for MLflow and Dagster (``kodomo.settings``: one database, one schema each),
made before either store first connects; idempotent."""
from __future__ import annotations

from sqlalchemy import DDL, create_engine

from kodomo.settings import DAGSTER_SCHEMA, MLFLOW_SCHEMA, Settings, with_driver


def ensure_store_schemas(settings: Settings) -> None:
    if not settings.is_production:
        return
    engine = create_engine(with_driver(settings.postgres_url, "psycopg"))
    try:
        with engine.begin() as con:
            for schema in (MLFLOW_SCHEMA, DAGSTER_SCHEMA):
                con.execute(DDL(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    finally:
        engine.dispose()
