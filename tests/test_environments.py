"""The environment is chosen by configuration: local files by default, PostgreSQL in production."""
from __future__ import annotations

import os

import dagster as dg
import pytest

from kodomo.settings import get_settings
from orchestration.runner import dagster_instance


def test_local_is_the_default_and_lives_under_kodomo_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KODOMO_ENV", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = get_settings()
    assert settings.env == "local"
    assert settings.warehouse_path == tmp_path / "home" / "warehouse.duckdb"
    with dagster_instance(settings) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert instance.root_directory == str(settings.dagster_home)
    assert "DAGSTER_HOME" not in os.environ  # the instance is opened from its folder, not found through the env


def test_an_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("KODOMO_ENV", "staging")
    with pytest.raises(ValueError, match="KODOMO_ENV"):
        get_settings()


def test_the_ingestion_workers_are_one_per_core_unless_configured(monkeypatch):
    monkeypatch.delenv("KODOMO_INGEST_WORKERS", raising=False)
    assert get_settings().ingest_workers == (os.cpu_count() or 1)
    monkeypatch.setenv("KODOMO_INGEST_WORKERS", "1")
    assert get_settings().ingest_workers == 1
    monkeypatch.setenv("KODOMO_INGEST_WORKERS", "two")
    with pytest.raises(ValueError, match="KODOMO_INGEST_WORKERS must be a positive whole number, not 'two'"):
        get_settings()


def test_production_puts_dagster_storage_in_postgres(tmp_path, monkeypatch, scratch_postgres_url):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "production")
    monkeypatch.setenv("KODOMO_POSTGRES_URL", scratch_postgres_url)
    settings = get_settings()

    @dg.asset
    def probe() -> int:
        return 1

    with dagster_instance(settings) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([probe], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id) is not None
    # The URL is written into the instance's configuration (nothing reads it from the environment).
    written = (settings.dagster_home / "dagster.yaml").read_text(encoding="utf-8")
    assert settings.dagster_postgres_url in written and "env:" not in written
