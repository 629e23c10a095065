"""Dagster code location of the Kodomo platform: ``orchestration.definitions``."""
