"""One multi-asset per feed contract: raw rows, valid rows (latest version per key) and quarantine.

Each asset archives the landing's new files under ``$KODOMO_HOME/archive``, reads those its staging store has not
seen (``$KODOMO_HOME/staging``) and derives its tables from every archived file of its feed, so a landing that no
longer holds a file (a drop zone, source-feeds.md §1 v1.1) loses nothing and a day's delivery costs its own files.

The Great Expectations suite generated from the same contract runs on the valid table as a
blocking check, so nothing downstream builds on a table that breaks its contract. A delivery's run checks the rows
that differ from the published valid table, which passed the same suite; a full run (the nightly one) checks every
row, so a suite changed with the code is applied to everything by the next full run.
"""

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from kodomo.contracts import Contract, all_contracts
from kodomo.ingest.feed import ingest_feed
from kodomo.ingest.archive import Archive
from kodomo.ingest.landing import check_landing
from kodomo.ingest.store import read_report
from kodomo.quality import validate_table
from kodomo.settings import get_settings
from orchestration.defs.resources import KodomoHome, Landing, RunOptions, Warehouse

GROUP = "ingestion"
CONTRACT_CHECK = "contract_suite"
progress_log = logging.getLogger("kodomo.progress")


def valid_key(feed: str) -> dg.AssetKey:
    return dg.AssetKey(["valid", feed])


@contextlib.contextmanager
def passed_table(con: duckdb.DuckDBPyConnection, published: Path, feed: str) -> Iterator[str | None]:
    """The published state's valid table of ``feed``, attached to ``con`` read-only, if it has the columns of the
    build's table (a changed contract rebuilds every row); None otherwise."""
    if not published.is_file():
        yield None
        return
    con.execute(f"attach '{published}' as published (read_only)")
    try:
        build = con.execute("select current_database()").fetchone()[0]
        columns = {catalog: con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = 'valid' "
            "and table_name = ? order by column_index", [catalog, feed]).fetchall() for catalog in ("published", build)}
        yield f"published.valid.{feed}" if columns["published"] and columns["published"] == columns[build] else None
    finally:
        con.execute("detach published")


def _agencies(warehouse: Warehouse) -> frozenset[str]:
    with warehouse.connect(read_only=True) as con:
        return frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())


def build_feed_asset(contract: Contract) -> dg.AssetsDefinition:
    feed = contract.feed
    upstream = [] if feed == "agencies" else [valid_key("agencies")]

    @dg.multi_asset(
        name=f"ingest_{feed}",
        group_name=GROUP,
        specs=[
            dg.AssetSpec(["raw", feed], deps=upstream, description=f"{contract.title}: every delivered row, as text."),
            dg.AssetSpec(valid_key(feed), deps=upstream,
                         description=f"{contract.title}: valid rows, latest version per key {contract.key}."),
            dg.AssetSpec(["quarantine", feed], deps=upstream,
                         description=f"{contract.title}: invalid rows and files, with rule and raw text."),
        ],
        check_specs=[
            dg.AssetCheckSpec(CONTRACT_CHECK, asset=valid_key(feed), blocking=True,
                              description="Great Expectations suite generated from the feed contract."),
        ],
    )
    def feed_asset(context: dg.AssetExecutionContext, landing: Landing, warehouse: Warehouse, home: KodomoHome,
                   run: RunOptions):
        root = check_landing(Path(landing.path))
        settings = get_settings().at_home(Path(home.path))
        archive = Archive(settings.archive_dir)
        agencies = frozenset() if feed == "agencies" else _agencies(warehouse)

        def say(message: str) -> None:
            context.log.info(message)
            progress_log.info(message)

        with warehouse.connect() as con:
            report = ingest_feed(con, contract, root, agencies, settings.staging_dir / f"{feed}.duckdb", say, archive,
                                 workers=settings.ingest_workers, incremental=not run.retrain)
            if run.retrain:
                quality = validate_table(con, contract, f"valid.{feed}")
            else:
                with passed_table(con, settings.warehouse_path, feed) as passed:
                    quality = validate_table(con, contract, f"valid.{feed}", passed=passed)
        say(f"{feed}: {report['rows_read']} rows read, {report['records']} records, "
            f"{report['rows_quarantined']} rows and {report['files_quarantined']} files quarantined; contract suite "
            f"on {quality.statistics['rows']} of {quality.statistics['rows_in_table']} valid rows")
        yield dg.MaterializeResult(asset_key=["raw", feed], metadata={"rows": report["rows_read"]})
        yield dg.MaterializeResult(asset_key=valid_key(feed), metadata={
            "records": report["records"], "rows_valid": report["rows_valid"]})
        yield dg.MaterializeResult(asset_key=["quarantine", feed], metadata={
            "rows_quarantined": report["rows_quarantined"], "files_quarantined": report["files_quarantined"],
            "by_rule": dg.MetadataValue.json(report["quarantine_by_rule"])})
        yield dg.AssetCheckResult(
            asset_key=valid_key(feed), check_name=CONTRACT_CHECK, passed=quality.success,
            metadata={"failed": dg.MetadataValue.json([f.as_dict() for f in quality.failed]),
                      "statistics": dg.MetadataValue.json(quality.statistics)},
        )

    return feed_asset


feed_assets = [build_feed_asset(c) for c in all_contracts().values()]


@dg.asset(
    key=["meta", "ingest_report"],
    group_name=GROUP,
    deps=[valid_key(feed) for feed in all_contracts()],
    description="Counts of the last ingestion per feed (`kodomo report ingest --json`).",
)
def ingest_report(warehouse: Warehouse, home: KodomoHome) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        report = read_report(con)
    path = Path(home.build) / "reports" / "ingest.json"  # published with the warehouse
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(r["rows_quarantined"] for r in report.values())
    return dg.MaterializeResult(metadata={"path": str(path), "rows_quarantined": total})
