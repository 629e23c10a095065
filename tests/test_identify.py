"""Identifying a new record's child with the linkage's saved model (kodomo/linkage/identify.py), on the scored
world's warehouse: the weights are Splink's own, a record typed with the slips agencies make finds its child,
an unknown child is new, and the cold start (no model) links exact matches only."""
from __future__ import annotations

import datetime as dt
import json
import logging

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from splink import DuckDBAPI, Linker

from kodomo.linkage.identify import (EXISTING, NEW, NewRecord, identify_records, load_model, match_weights,
                                     pair_levels)
from kodomo.linkage.model import MODEL_COLUMNS
from kodomo.linkage.pipeline import MODEL_FILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def linkage(scored_world):
    home = scored_world["home"]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield {"con": con, "model_path": home / "linkage" / MODEL_FILE,
           "model": load_model(home / "linkage" / MODEL_FILE, con)}
    con.close()


def _records(con) -> pd.DataFrame:
    return con.execute("""select r.rowid as unique_id, r.*, l.person_key
                          from linkage.person_records r join linkage.person_links l using (agency_id, local_child_id)
                          order by r.rowid""").df()


def test_match_weights_are_those_of_splinks_own_predict(linkage):
    con, model = linkage["con"], linkage["model"]
    records = _records(con)
    db_api = DuckDBAPI(duckdb.connect())
    frame = db_api.register(pa.Table.from_pandas(records[list(MODEL_COLUMNS)], preserve_index=False),
                            table_name="person_records")
    saved = json.loads(linkage["model_path"].read_text(encoding="utf-8"))
    linker = Linker(frame, saved, log_level=logging.ERROR)
    predicted = linker.inference.predict(warning_mode="never").as_pandas_dataframe()
    # The interesting pairs: strong, middling and weak, and those with a term-frequency adjusted name.
    sample = pd.concat([predicted.nlargest(100, "match_weight"), predicted.nsmallest(100, "match_weight"),
                        predicted.sample(min(300, len(predicted)), random_state=0)]).drop_duplicates(
        ["unique_id_l", "unique_id_r"]).reset_index(drop=True)
    left = records.set_index("unique_id").loc[sample["unique_id_l"]].reset_index().assign(
        left_id=range(len(sample)), address_municipality_code=None)
    position = pd.Series(range(len(model.records)), index=records["unique_id"])  # the model's records: same order
    assert model.records["node_id"].tolist() == records["node_id"].tolist()
    pairs = pair_levels(con, model, left, np.arange(len(sample)), position.loc[sample["unique_id_r"]].to_numpy())
    pairs = pairs.sort_values("left_id", ignore_index=True)
    assert pairs["left_id"].tolist() == list(range(len(sample)))
    ours = match_weights(model, pairs)
    assert np.abs(ours - sample["match_weight"].to_numpy()).max() < 1e-6
    assert sample["match_weight"].max() > 10 and sample["match_weight"].min() < -10


def _typed(row, **changes) -> NewRecord:
    values = {"agency_id": row["agency_id"], "report_id": "NEW1", "name": row["child_name"],
              "kana": row["child_kana"], "birth_date": dt.date.fromisoformat(row["birth_date"]),
              "sex": row["sex"] or "9", "municipality_code": None} | changes
    return NewRecord(**values)


def test_records_typed_again_find_the_batchs_child(linkage):
    con, model = linkage["con"], linkage["model"]
    records = _records(con).sample(400, random_state=1)
    found = identify_records(con, model, [_typed(row) for _, row in records.iterrows()])
    agrees = np.mean([f.match == EXISTING and f.person_key == key for f, key in zip(found, records["person_key"])])
    assert agrees >= 0.99
    holders = dict(con.execute("select person_key, list(distinct agency_id order by agency_id) "
                               "from linkage.person_links group by all").fetchall())
    best = found[0].candidates[0]
    assert best.person_key == found[0].person_key and best.probability >= 0.95
    assert list(best.agencies) == holders[best.person_key]
    assert {"name", "kana", "birth_date"} <= set(best.agreeing) and "birth_date" not in best.differing


def test_the_slips_agencies_make_still_find_the_child(linkage):
    con, model = linkage["con"], linkage["model"]
    records = _records(con)
    births = pd.to_datetime(records["birth_date"])
    # A child with a spaced name, a swappable birth date (day <= 12, day != month), and no twin or namesake.
    swappable = records[(births.dt.day <= 12) & (births.dt.day != births.dt.month)
                        & records["child_name"].str.contains(" ") & records["child_kana"].str.contains(" ")]
    row = swappable.iloc[0]
    birth = dt.date.fromisoformat(row["birth_date"])
    hiragana = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in row["child_kana"])
    typed = [_typed(row, name=row["child_name"].replace(" ", ""), kana=hiragana),
             _typed(row, birth_date=birth.replace(month=birth.day, day=birth.month)),
             _typed(row, birth_date=birth + dt.timedelta(days=1) if birth.day < 28 else birth - dt.timedelta(days=1))]
    found = identify_records(con, model, typed)
    assert [f.person_key for f in found] == [row["person_key"]] * 3
    assert [f.match for f in found] == [EXISTING] * 3
    assert "birth_date" in found[1].candidates[0].differing and "birth_date" in found[2].candidates[0].differing
    assert {"name", "kana", "birth_date"} <= set(found[0].candidates[0].agreeing)


def test_an_unknown_child_is_new_and_the_cold_start_links_exact_matches_only(linkage):
    con, model = linkage["con"], linkage["model"]
    row = _records(con).iloc[0]
    stranger = _typed(row, name="存在 しない", kana="ソンザイ シナイ", birth_date=dt.date(2001, 2, 3))
    [found] = identify_records(con, model, [stranger])
    assert found.match == NEW and found.person_key.startswith("P") and not found.candidates
    assert "存在" not in found.person_key
    exact, typo = identify_records(con, None, [_typed(row), _typed(row, kana="ソンザイ シナイ", name="存在 しない")])
    assert exact.match == EXISTING and exact.person_key == row["person_key"]
    assert exact.candidates[0].probability == 1.0 and exact.candidates[0].match_weight == float("inf")
    assert typo.match == NEW and not typo.candidates
