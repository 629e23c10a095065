"""The national linkage's engine: Splink on a local Spark scores as DuckDB does, so a `small` world links into the same
children whichever engine ``KODOMO_LINKAGE_ENGINE`` names (``make test-spark`` runs this file alone)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest

import kodomo.linkage.pipeline as pipeline
from kodomo.linkage.model import linkage_database, settings
from kodomo.linkage.normalise import one_byte_kana
from kodomo.settings import get_settings
from orchestration.defs.linkage.assets import link_children_asset
from orchestration.defs.resources import pipeline_resources

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _java_children() -> list[int]:
    """Processes of this one running Java: the JVM that pyspark starts is one."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:  # ended meanwhile
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent) == os.getpid() and command.endswith(b"java"):
            found.append(int(pid))
    return found


def _groups(links: pd.DataFrame) -> set[frozenset]:
    """The partition of the child records (agency_id, local_child_id) into children, whatever the keys."""
    return {frozenset(zip(group["agency_id"], group["local_child_id"])) for _, group in links.groupby("person_key")}


def _parameters(model: dict) -> dict[tuple, float]:
    return {(c["output_column_name"], level["label_for_charts"], name): level[name] for c in model["comparisons"]
            for level in c["comparison_levels"] for name in ("m_probability", "u_probability") if name in level}


def test_configured_spark_links_the_same_children_as_duckdb(scored_world, tmp_path, monkeypatch):
    """The linkage asset, with the pipeline's resources and ``KODOMO_LINKAGE_ENGINE=spark``, on a copy of the world's
    warehouse, against the world's own run on DuckDB: the same children, the same pairs for review with the same
    probabilities, the same model."""
    home = Path(scored_world["home"])
    monkeypatch.setenv("KODOMO_LINKAGE_ENGINE", "spark")
    resources = pipeline_resources(get_settings().at_home(tmp_path), scored_world["landing"])
    warehouse, build = Path(resources["warehouse"].path), Path(resources["home"].build)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / "warehouse.duckdb", warehouse)
    scored_on, score = [], pipeline.node_pair_scores

    def spy(frame, model):
        scored_on.append(type(frame.db_api).__name__)
        return score(frame, model)

    monkeypatch.setattr(pipeline, "node_pair_scores", spy)
    assert dg.materialize([link_children_asset], resources=resources).success
    assert scored_on == ["KodomoSparkAPI"]
    assert _java_children() == []  # the JVM ended with the linkage: the rest of a run does not carry it
    assert not (build / "linkage" / pipeline.SCRATCH_DIR).exists()

    tables = {}
    for engine, path in (("duckdb", home / "warehouse.duckdb"), ("spark", warehouse)):
        with duckdb.connect(str(path), read_only=True) as con:
            tables[engine] = {table: con.execute(f"select * from linkage.{table}").df()
                              for table in ("person_links", "review_pairs")}
    duck, spark = tables["duckdb"], tables["spark"]
    assert len(spark["person_links"]) == len(duck["person_links"])
    assert _groups(spark["person_links"]) == _groups(duck["person_links"])
    order = ["agency_id", "local_child_id"]
    pd.testing.assert_frame_equal(spark["person_links"].sort_values(order, ignore_index=True),
                                  duck["person_links"].sort_values(order, ignore_index=True))
    assert len(duck["review_pairs"]) > 0
    pair = ["agency_id_l", "local_child_id_l", "agency_id_r", "local_child_id_r"]
    pd.testing.assert_frame_equal(spark["review_pairs"].sort_values(pair, ignore_index=True),
                                  duck["review_pairs"].sort_values(pair, ignore_index=True), rtol=0, atol=1e-9)
    trained = {engine: json.loads(path.read_text(encoding="utf-8"))
               for engine, path in (("duckdb", home / "linkage" / "model.json"),
                                    ("spark", build / "linkage" / "model.json"))}
    # one training, in process on DuckDB, whose parallel sums may differ in the last bit from run to run
    assert _parameters(trained["spark"]) == pytest.approx(_parameters(trained["duckdb"]), rel=1e-9)


# Pairs of records that reach every level of every comparison, with the edge cases of the SQL DuckDB and Spark
# spell differently: dates across a leap day and a year end, lists holding nulls, missing lists.
BASE = {"given": "陽翔", "given_kana": "ハルト", "surname": "佐藤", "surname_kana": "サトウ", "full_name": "佐藤陽翔",
        "full_kana": "サトウハルト", "birth_date": "2020-02-29", "sex": "1", "prefecture_code": "13",
        "places": ["13101", "13T01"], "move_keys": ["13101>13102"]}
PAIRS = [
    ({}, {}),
    ({}, {"given": None, "surname": None, "birth_date": None, "sex": None, "prefecture_code": None}),
    ({}, {"given": "悠斗", "full_name": "佐藤悠斗", "surname": "左藤", "birth_date": "2020-03-01", "sex": "2",
          "move_keys": ["13102>13103"]}),
    ({}, {"given_kana": "ハルコ", "full_kana": "サトオハルコ", "surname_kana": "サトオ", "birth_date": "2020-02-28",
          "places": ["13102", "13T01"], "move_keys": []}),
    ({}, {"given_kana": "ハトル", "full_kana": "サトウハトル", "places": ["13102"], "move_keys": []}),
    ({}, {"given_kana": "ヨウト", "full_kana": "サカイヨウト", "surname_kana": "サカイ", "birth_date": "2020-03-02",
          "prefecture_code": "27", "places": ["27100"], "move_keys": None}),
    ({"birth_date": "2019-12-31"}, {"given": "湊", "given_kana": "ミナト", "surname": "鈴木", "surname_kana": "スズキ",
                                    "full_name": "鈴木湊", "full_kana": "スズキミナト", "birth_date": "2020-01-01",
                                    "places": [None, "13102"], "move_keys": [None]}),
    ({"birth_date": "2020-03-04", "places": [None, "13101"], "move_keys": [None]},
     {"birth_date": "2020-04-03", "places": [None, "13102"], "move_keys": [None]}),
    ({"birth_date": "2020-03-04", "places": None, "move_keys": []}, {"birth_date": "2020-04-03"}),
]


def _pair_table() -> pa.Table:
    rows = []
    for number, (left, right) in enumerate(PAIRS):
        row = {"pair": number}
        for side, changes in (("l", left), ("r", right)):
            record = {**BASE, **changes}
            for part in ("given_kana", "surname_kana"):
                record[f"{part}_ascii"] = one_byte_kana(record[part])
            row.update({f"{column}_{side}": value for column, value in record.items()})
        rows.append(row)
    return pa.Table.from_pylist(rows)


def test_the_model_sql_means_the_same_on_spark(tmp_path):
    """Every comparison level of the one model, written in DuckDB's SQL, puts each pair at the same level on Spark."""
    levels = {}
    for engine in ("duckdb", "spark"):
        comparisons = settings().get_settings(engine).comparisons
        with linkage_database(engine, tmp_path / engine) as db_api:
            pairs = db_api.register(_pair_table(), table_name="pairs")
            sql = f"select pair, {', '.join(c._case_statement for c in comparisons)} from {{this}} order by pair"
            levels[engine] = pairs.query_sql(sql).as_pyarrow_table().to_pandas()
    duck, spark = levels["duckdb"], levels["spark"]
    for comparison in settings().get_settings("duckdb").comparisons:
        # the pairs reach every level (null: -1), so that each condition is compared
        assert set(duck[comparison._gamma_column_name]) == {level.comparison_vector_value
                                                            for level in comparison.comparison_levels}
    pd.testing.assert_frame_equal(spark, duck, check_dtype=False)
