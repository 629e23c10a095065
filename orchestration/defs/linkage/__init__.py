"""Record linkage: child records of every agency linked into children (Splink on DuckDB)."""
