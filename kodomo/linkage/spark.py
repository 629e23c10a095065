"""Splink on Spark: where a national deployment scores its pairs (``KODOMO_LINKAGE_ENGINE=spark``).

Only Splink's database changes: the model (settings, comparisons, blocking rules) is the one of
``kodomo.linkage.model``, trained in process (``pipeline.TRAINING_ENGINE``) and written in DuckDB's SQL. Spark
reads that SQL because Splink passes every query through sqlglot, which turns DuckDB's ``x::date`` and
``date_diff('day', …)`` into Spark's, and because this session provides the two functions sqlglot cannot
translate: ``damerau_levenshtein`` from the jar Splink ships, and ``list_has_any`` as a SQL function over Spark's
``arrays_overlap`` (both true when the lists share a non-null element). The saved model thus stays the one that the
app's identification of a new record (``kodomo.linkage.identify``, on DuckDB) reads.

The session is local (all cores of this machine; a cluster would differ in its master and memory), with no web UI,
Spark's own logging down to errors, and its scratch files (the records as parquet, shuffles, Splink's parquet
checkpoints) in a folder of the run that is removed afterwards. Its JVM ends with it, so that the rest of a run does
not carry its heap.
"""
from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from py4j.protocol import Py4JJavaError
from pyspark import SparkContext
from pyspark.sql import SparkSession
from splink.backends.spark import SparkAPI, similarity_jar_location

from kodomo import PYSPARK_PANDAS_WARNING

#: Spark's master: this machine, all its cores.
LOCAL = "local[*]"
#: Memory of the driver, which in local mode also runs the tasks; Spark spills to the scratch folder beyond it.
DRIVER_MEMORY = "2g"
#: Partitions of a shuffle: a few per core is enough locally (Spark's default of 200 is meant for a cluster).
SHUFFLE_PARTITIONS = 8
#: DuckDB functions of the model's SQL that Spark lacks, defined in Spark's SQL with DuckDB's meaning.
DUCKDB_FUNCTIONS = (
    "create temporary function list_has_any(l array<string>, r array<string>) returns boolean "
    "return arrays_overlap(l, r)",
)
# Spark's own logging to stderr, errors only (its default prints warnings and a banner for every session); pyspark
# counts as a Spark shell, whose level is that of its gateway's logger.
_QUIET_LOG4J = """\
rootLogger.level = error
logger.shell.name = org.apache.spark.api.python.PythonGatewayServer
logger.shell.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = spark %p %c{1}: %m%n
"""


class KodomoSparkAPI(SparkAPI):
    """Splink's Spark database, with two changes.

    Its queries are written in sqlglot's Spark dialect rather than Splink's own: Splink's dialect subclasses
    sqlglot's, and sqlglot's compiled build (``sqlglotc``, installed here through dagster-dbt) cannot instantiate an
    interpreted subclass ("interpreted classes cannot inherit from compiled"). Splink's dialect differs only in
    writing a float literal cast to double as a double literal, to keep it out of Spark's 38-digit decimals; Python
    writes a float with at most 17 significant digits (an exponent beyond, which Spark reads as a double), so the
    plain cast reads the same number.

    An Arrow table is registered as a parquet file of ``tables``: made from local rows, it would be planned as a
    local relation, which Spark copies into every query that reads it (the prediction reads the records ten
    times; a prefecture's records four times over exhausted a 2 GiB driver that way).
    """

    def __init__(self, *, spark_session: SparkSession, tables: Path):
        super().__init__(spark_session=spark_session)  # registers the jar's functions
        self.tables = tables

    def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
        return sqlglot.transpile(sql, read="spark", write="spark", pretty=True)[0]

    def _table_registration(self, input, table_name: str) -> None:
        if not isinstance(input, pa.Table):
            super()._table_registration(input, table_name)
            return
        path = self.tables / f"{table_name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(input, path)
        self.spark.read.parquet(str(path)).createOrReplaceTempView(table_name)


def _session(scratch: Path, master: str) -> SparkSession:
    log4j = scratch / "log4j2.properties"
    log4j.write_text(_QUIET_LOG4J, encoding="utf-8")
    session = (
        SparkSession.builder.master(master).appName("kodomo-linkage")
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .getOrCreate()
    )
    session.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))  # Splink's parquet checkpoints
    return session


def _end_jvm() -> None:
    """End the JVM that pyspark started for this process: stopping a session leaves it running until Python exits.

    pyspark's launcher gives the JVM a pipe on its stdin for this; the next session starts a new JVM."""
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    process = getattr(gateway, "proc", None)
    if process is not None:
        process.stdin.close()
        process.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None


@contextmanager
def spark_database(scratch: Path, master: str = LOCAL) -> Iterator[KodomoSparkAPI]:
    """Splink's database on a Spark session working in ``scratch`` (removed at the end, with the session)."""
    if SparkContext._active_spark_context is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        # the session's settings (memory, jars, scratch) and its end belong to whoever started that Spark
        raise RuntimeError("a Spark context already runs in this process; the linkage starts its own")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():  # records go in as parquet and scores come out as Arrow, never as pandas
            warnings.filterwarnings("ignore", PYSPARK_PANDAS_WARNING, FutureWarning)
            session = _session(scratch, master)
        try:
            db_api = KodomoSparkAPI(spark_session=session, tables=scratch / "tables")
            for sql in DUCKDB_FUNCTIONS:
                session.sql(sql)
            yield db_api
        except Py4JJavaError as error:  # its message is read from the JVM, which ends below
            raise RuntimeError(f"Spark failed: {error.java_exception.toString()}") from error
        finally:
            session.stop()
    finally:
        _end_jvm()
        shutil.rmtree(scratch, ignore_errors=True)
