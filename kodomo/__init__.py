"""Kodomo: data platform and ML pipeline for child-welfare and child-health services.

Everything in this repository runs on synthetic data made by ``kodomo generate``.
"""

#: What pyspark (the linkage's Spark engine) warns whenever it is imported, which Great Expectations does wherever it
#: is installed: that it does not fully support pandas 3. The platform hands Spark no pandas (parquet in, Arrow out).
PYSPARK_PANDAS_WARNING = "PySpark does not yet fully support pandas"
