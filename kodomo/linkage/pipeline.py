"""Linking the warehouse's child records into children, and writing the ``linkage`` schema.

Tables written:
- ``linkage.person_records`` — the person-field variants with their comparison forms (the search
  layer: the only linkage table with names and kana);
- ``linkage.person_links`` — ``agency_id, local_child_id, person_key``: one row per child record;
- ``linkage.review_pairs`` — pairs of child records for a person to decide (no names).
The trained Splink settings are saved as ``<artifacts>/model.json``. A landing too small to train on (a
few hand-made rows) is linked on exact name, kana and birth date instead, and no model is saved. The pairs are
scored by Splink in process on DuckDB, or on Spark for a national linkage (``Settings.linkage_engine``); the model,
the clustering and the tables are the same on both.

Supervisors' decisions on earlier review pairs (``kodomo.linkage.decisions``) are applied to the clustering of
every run: "same child" joins the two records, "different children" keeps them apart, whatever the scores.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kodomo.csv_safe import safe_rows
from kodomo.linkage.cluster import LINK_THRESHOLD, cluster_nodes, review_pairs
from kodomo.linkage.decisions import decided_links
from kodomo.linkage.model import (can_train, exact_pair_scores, linkage_database, node_pair_scores, read_model,
                                  register_records, save_model, train)
from kodomo.linkage.records import existing_tables, read_person_variants, with_comparison_columns
from kodomo.memory import cache_released, release_freed_memory
from kodomo.tables import replace_table

logger = logging.getLogger(__name__)
SCHEMA = "linkage"
MODEL_FILE = "model.json"
SCRATCH_DIR = "scratch"  # beside the model, the engine's work files while it runs (Spark's shuffles and checkpoints)
#: Where the model is trained, whichever engine scores. Splink samples the records it trains on by a hash of their
#: ids, and each engine hashes differently: trained on Spark, a prefecture world's model differs a little (match
#: probabilities up to 0.07 apart, a dozen more pairs for review, the same clusters). Training reads bounded
#: samples (``model.U_SAMPLE_PAIRS``, ``model.EM_MAX_PAIRS``), so it stays in process; the scoring of every
#: blocked pair, which grows with the data, is what moves to Spark, and gives the same scores there.
TRAINING_ENGINE = "duckdb"
EXPORT_COLUMNS = ("agency_id", "local_child_id", "person_key")


@dataclass(frozen=True)
class LinkageSummary:
    records: int
    child_records: int
    children: int
    scored_pairs: int
    review_pairs: int
    model_path: Path | None  # None: too little data to train, exact matches only


def _node_columns(pairs: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """Replace node ids by agency_id / local_child_id columns on each side."""
    ids = nodes.set_index("node_id")[["agency_id", "local_child_id"]]
    for side in ("l", "r"):
        pairs = pairs.join(ids.add_suffix(f"_{side}"), on=f"node_{side}")
    return pairs[["agency_id_l", "local_child_id_l", "agency_id_r", "local_child_id_r", "match_probability",
                  "match_weight", "reason", "person_key_l", "person_key_r"]]


def link_children(con: duckdb.DuckDBPyConnection, artifacts_dir: Path, threshold: float = LINK_THRESHOLD,
                  decisions: pd.DataFrame | None = None, engine: str = "duckdb", retrain: bool = True,
                  memory_limit: str | None = None) -> LinkageSummary:
    """Train on the data itself, score, cluster under the supervisors' ``decisions`` (latest per pair:
    ``agency_id_l, local_child_id_l, agency_id_r, local_child_id_r, outcome``), and replace the ``linkage``
    tables. Splink scores the pairs on ``engine`` (``Settings.linkage_engine``, see ``TRAINING_ENGINE``); the
    records come from the warehouse and the scores back, clustered here whichever engine made them. Without
    ``retrain`` (a delivery's run), the model already in ``artifacts_dir`` scores, if there is one. ``memory_limit``
    caps Splink's DuckDB (``linkage_database``) and is the limit ``con`` was opened with (``cache_released``)."""
    records = with_comparison_columns(read_person_variants(con))
    nodes = records[["node_id", "agency_id", "local_child_id"]].drop_duplicates("node_id")
    model_path = Path(artifacts_dir) / MODEL_FILE
    if can_train(records):
        scratch = Path(artifacts_dir) / SCRATCH_DIR
        # Splink's DuckDB gets the warehouse's cap, so the warehouse's cache and the heap freed since ingestion go
        # back first: three such footprints side by side took a Tokyo run past 7 GiB.
        with cache_released(con, memory_limit):
            release_freed_memory()
            if retrain or not model_path.is_file():
                with linkage_database(TRAINING_ENGINE, scratch, memory_limit) as db_api:
                    model = train(register_records(records, db_api))
                save_model(model, model_path)
            else:
                model = read_model(model_path)
            with linkage_database(engine, scratch, memory_limit) as db_api:
                scores = node_pair_scores(register_records(records, db_api), model)
    else:
        logger.warning("linkage: too few record pairs to train a model on; linking exact name, kana and "
                       "birth-date matches only")
        model_path.unlink(missing_ok=True)  # no stale model beside links it did not make
        model_path = None
        scores = exact_pair_scores(records)
    must_link, cannot_link = decided_links(decisions)
    keyed, refused = cluster_nodes(nodes, scores, threshold, must_link, cannot_link)
    review = _node_columns(review_pairs(scores, keyed, refused, threshold, [*must_link, *cannot_link]), nodes)

    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute("begin")
    try:
        replace_table(con, f"{SCHEMA}.person_records", records.drop(columns=["unique_id"]))
        replace_table(con, f"{SCHEMA}.person_links",
                      keyed[list(EXPORT_COLUMNS)].sort_values(["agency_id", "local_child_id"]))
        replace_table(con, f"{SCHEMA}.review_pairs", review)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LinkageSummary(records=len(records), child_records=len(nodes), children=keyed["person_key"].nunique(),
                          scored_pairs=len(scores), review_pairs=len(review), model_path=model_path)


def export_links(con: duckdb.DuckDBPyConnection, out_path: str | Path) -> int:
    """Write ``linkage.person_links`` as the CSV of ``kodomo export-links``; return the row count."""
    if "person_links" not in existing_tables(con, SCHEMA):
        raise ValueError("no linkage result yet: run 'kodomo run --landing DIR' first")
    rows = con.execute(f"select {', '.join(EXPORT_COLUMNS)} from {SCHEMA}.person_links "
                       "order by agency_id, local_child_id").fetchall()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)  # like `generate --out`: the operator named the place
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(safe_rows(rows))  # agencies' IDs are free text to a spreadsheet
    return len(rows)
