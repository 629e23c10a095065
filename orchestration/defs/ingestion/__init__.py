"""Ingestion of the landing folder: one multi-asset per feed, with blocking data-quality checks."""
