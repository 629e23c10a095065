"""Conform: the dbt project (staging, intermediate, marts) as Dagster assets, dbt tests as asset checks."""
