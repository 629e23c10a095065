"""The linkage asset: reads the valid person-level feeds, writes the ``linkage`` schema.

One multi-asset, because one Splink run produces all three tables: the links, the pairs left for
review, and the person records (the search layer). The trained model is saved in the run's build folder
and published with the warehouse as ``$KODOMO_HOME/linkage/model.json``. Splink scores on the configured
engine (``KODOMO_LINKAGE_ENGINE``: DuckDB in process, or Spark for a national linkage).
"""

import logging
from pathlib import Path

import dagster as dg

from kodomo.contracts import person_feeds
from kodomo.linkage import link_children
from kodomo.linkage.cluster import LINK_THRESHOLD
from kodomo.linkage.decisions import DECISIONS_FILE, read_run_decisions
from kodomo.linkage.model import SCORE_FLOOR
from kodomo.linkage.records import existing_tables
from kodomo.memory import release_freed_memory
from kodomo.settings import get_settings
from orchestration.defs.resources import KodomoHome, RunOptions, Warehouse

GROUP = "linkage"
progress_log = logging.getLogger("kodomo.progress")
LINKS = dg.AssetKey(["linkage", "person_links"])
COVERAGE_CHECK = "one_row_per_child_record"
UPSTREAM = [dg.AssetKey(["valid", "agencies"]), *(dg.AssetKey(["valid", feed]) for feed in person_feeds())]


@dg.multi_asset(
    name="link_children",
    group_name=GROUP,
    specs=[
        dg.AssetSpec(LINKS, deps=UPSTREAM,
                     description="One row per child record (agency_id, local_child_id) with the person_key of "
                                 f"the child it belongs to (match probability ≥ {LINK_THRESHOLD}; no names)."),
        dg.AssetSpec(["linkage", "review_pairs"], deps=UPSTREAM,
                     description=f"Pairs of child records scored in [{SCORE_FLOOR}, {LINK_THRESHOLD}) and left "
                                 "apart, or strong links refused because they would give one child two IDs of "
                                 "one agency: for a person to decide."),
        dg.AssetSpec(["linkage", "person_records"], deps=UPSTREAM,
                     description="Person-field variants of every child record with their comparison forms: "
                                 "the search layer, the only linkage table with names."),
    ],
    check_specs=[dg.AssetCheckSpec(COVERAGE_CHECK, asset=LINKS, blocking=True,
                                   description="Exactly one row per (agency_id, local_child_id) of the valid "
                                               "person-level feeds (the export-links contract).")],
)
def link_children_asset(context: dg.AssetExecutionContext, warehouse: Warehouse, home: KodomoHome, run: RunOptions):
    engine = get_settings().linkage_engine
    progress_log.info("linkage: linking the child records of every agency (scored on %s)", engine)
    with warehouse.connect() as con:
        # the model is published with the warehouse; the supervisors' decisions were written for this run
        decisions = read_run_decisions(Path(home.build) / "linkage" / DECISIONS_FILE)
        # a delivery's run keeps the published model (copied into the build with the published state)
        summary = link_children(con, Path(home.build) / "linkage", decisions=decisions, engine=engine,
                                retrain=run.retrain, memory_limit=warehouse.memory_limit)
        missing, duplicated = coverage_gaps(con)
    release_freed_memory()  # the records and scores are gone; dbt, next, runs beside this process
    message = (f"linkage: {summary.child_records} child records ({summary.records} variants) linked into "
               f"{summary.children} children; {summary.review_pairs} pairs for review")
    context.log.info(message)
    progress_log.info(message)
    model = dg.MetadataValue.path(str(summary.model_path)) if summary.model_path else "none: exact matches only"
    yield dg.MaterializeResult(asset_key=LINKS, metadata={
        "child_records": summary.child_records, "children": summary.children, "model": model, "engine": engine})
    yield dg.MaterializeResult(asset_key=["linkage", "review_pairs"], metadata={"pairs": summary.review_pairs})
    yield dg.MaterializeResult(asset_key=["linkage", "person_records"], metadata={"records": summary.records})
    yield dg.AssetCheckResult(asset_key=LINKS, check_name=COVERAGE_CHECK, passed=missing == duplicated == 0,
                              metadata={"missing": missing, "duplicated": duplicated})


def coverage_gaps(con) -> tuple[int, int]:
    """Child records of the valid feeds without a link row, and child records with more than one."""
    feeds = [f for f in person_feeds() if f in existing_tables(con, "valid")]
    records = " union ".join(f"select agency_id, local_child_id from valid.{feed}" for feed in feeds)
    return con.execute(f"""
        select (select count(*) from ({records}) anti join linkage.person_links using (agency_id, local_child_id)),
               (select count(*) from (select agency_id, local_child_id from linkage.person_links
                                      group by all having count(*) > 1))
    """).fetchone()


linkage_assets = [link_children_asset]
