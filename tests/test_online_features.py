"""The online features (ml/online_features.py) are the batch mart's: the same dbt macro, compiled, run against a
table of intakes that the warehouse does not hold. On a generated `small` world, every intake's online row
equals its ``marts.intake_features`` row, and one intake answers well within the caseworkers' 300 ms."""
from __future__ import annotations

import time

import duckdb
import numpy as np
import pandas as pd
import pytest

from kodomo.synthetic import generate
from ml.features import KEY, assessment_items, read_features
from ml.online_features import online_features
from tests.test_dbt import ingest, write_stand_in_person_links
from tests.test_ml import run_dbt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("online")
    truth = generate(root / "landing", scale="small", seed=1, progress=lambda _: None)
    path = root / "warehouse.duckdb"
    ingest(root / "landing", path)
    write_stand_in_person_links(path, truth)
    run_dbt(path)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def _as_a_caller_gives_them(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What a caller knows of a new intake: the report, the child's key, the birth date, the assessment items."""
    items = ", ".join(c.name for c in assessment_items())
    return con.execute(f"select agency_id, report_id, person_key, received_at, birth_date, route, abuse_types, {items} "
                       "from intermediate.int_intakes").df()


def test_every_intake_online_equals_its_batch_row(warehouse):
    intakes = _as_a_caller_gives_them(warehouse)
    batch = read_features(warehouse).sort_values(KEY).reset_index(drop=True)
    online = online_features(warehouse, intakes).sort_values(KEY).reset_index(drop=True)
    assert len(batch) == len(intakes) > 1000
    pd.testing.assert_frame_equal(online, batch)
    assert batch["prior_reports_total"].sum() > 0 and batch["overdue_immunizations"].sum() > 0


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    # A one-row column of nulls has no type of its own: compare the values.
    return frame.astype(object).where(frame.notna(), None)


def test_one_intake_at_a_time_is_the_same_and_fast(warehouse):
    intakes = _as_a_caller_gives_them(warehouse)
    batch = read_features(warehouse).set_index(KEY)
    sample = intakes.sample(100, random_state=0)
    seconds = []
    for i in range(len(sample)):
        one = sample.iloc[[i]]
        started = time.perf_counter()
        row = online_features(warehouse, one)
        seconds.append(time.perf_counter() - started)
        expected = batch.loc[[tuple(one[KEY].iloc[0])]].reset_index()
        pd.testing.assert_frame_equal(_values(row), _values(expected))
    assert np.percentile(seconds, 95) < 0.3


def test_a_new_intake_sees_the_childs_history_and_not_itself(warehouse):
    child = warehouse.execute("""
        select person_key, count(*) as reports, max(received_at) as last_received
        from marts.intake_features group by person_key order by reports desc, person_key limit 1""").fetchall()[0]
    person_key, reports, last_received = child
    new = pd.DataFrame([{"agency_id": "999999", "report_id": "NEW", "person_key": person_key,
                         "received_at": last_received + pd.Timedelta(days=400)}])
    row = online_features(warehouse, new).iloc[0]
    # Every report of the child was on record by then (nothing is entered 400 days late in this world).
    assert row["prior_reports_total"] == reports
    assert row["prior_reports_1y"] == 0 and row["has_assessment"] == 0 and pd.isna(row["age_years"])


def test_bad_input_is_refused_with_the_missing_column(warehouse):
    with pytest.raises(ValueError, match="person_key"):
        online_features(warehouse, pd.DataFrame([{"agency_id": "1", "report_id": "R", "received_at": "2024-01-01"}]))
