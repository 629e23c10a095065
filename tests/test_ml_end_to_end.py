"""A generated `small` world through the model's whole life: labels checked against the generator's truth,
train + register + promote + score, and the backtest command."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import mlflow
import numpy as np
import pandas as pd
import pytest

from kodomo.cli import main
from kodomo.settings import get_settings
from orchestration.runner import build_platform
from ml.backtest import run_backtest
from ml.features import KEY
from ml.lifecycle import build_label_table, promote_challenger, score_open_intakes, train_and_register
from ml.promotion import GateLimits
from ml.registry import CHALLENGER, CHAMPION, connect, load_version, version_by_alias

pytestmark = pytest.mark.slow
CUTOFF = dt.date(2024, 4, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Generate, then build the platform up to the dbt marts and back-test on it, as the backtest command does."""
    root = tmp_path_factory.mktemp("mlworld")
    landing = root / "landing"
    assert main(["generate", "--out", str(landing), "--scale", "small", "--seed", "5"]) == 0
    home = root / "home"
    out = root / "backtest.csv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        settings = get_settings()
    warehouse = build_platform(settings, landing)
    result = run_backtest(warehouse, CUTOFF, out)
    con = duckdb.connect(str(warehouse))
    yield {"con": con, "settings": settings, "truth": root / "landing-truth", "backtest": result}
    con.close()


def _truth_intakes(world) -> pd.DataFrame:
    return pd.read_csv(world["truth"] / "intakes.csv", dtype={"agency_id": str, "report_id": str})


def test_labels_agree_with_the_generators_outcome(world):
    labels = build_label_table(world["con"])
    truth = _truth_intakes(world)
    closed = truth[truth["window_closed"].astype(str).str.lower().isin(["true", "1", "yes"])]
    both = labels.merge(closed[[*KEY, "outcome"]], on=KEY, suffixes=("", "_truth"))
    assert len(both) >= 0.98 * len(closed)
    assert (both["outcome"] == both["outcome_truth"].astype(int)).mean() >= 0.98


def test_train_register_promote_and_score_open_intakes(world):
    con, settings = world["con"], world["settings"]
    build_label_table(con)
    report, registered = train_and_register(con, settings)
    client = connect(settings)
    assert str(version_by_alias(client, CHALLENGER).version) == registered.version
    assert version_by_alias(client, CHAMPION) is None
    assert report.metrics["lightgbm"]["auc"].value > report.metrics["checklist"]["auc"].value - 0.05
    artifacts = {a.path for a in client.list_artifacts(registered.run_id)}
    assert {"model_card.html", "feature_list.json", "plots", "tables"} <= artifacts
    card = mlflow.artifacts.load_text(f"runs:/{registered.run_id}/model_card.html")
    assert "synthetic" in card and "Decision support only" in card

    # A small world's test slice (a few hundred intakes) is too noisy for the production ECE limit;
    # the gates themselves are tested both ways in test_ml.py.
    decision = promote_challenger(con, settings, GateLimits(max_ece=0.15))
    run = client.get_run(registered.run_id)
    assert decision.promote, decision.reasons
    assert run.data.tags["promotion.decision"] == "promoted"
    assert json.loads(mlflow.artifacts.load_text(f"runs:/{registered.run_id}/promotion.json"))["reasons"]
    assert str(version_by_alias(client, CHAMPION).version) == registered.version
    # The registry holds the whole model (margin, booster, calibrator): loaded, it scores as trained.
    loaded = load_version(client, version_by_alias(client, CHAMPION))
    assert loaded.margin == report.model.margin
    np.testing.assert_allclose(loaded.predict_proba(report.test_matrix)[:, 1], report.test["lightgbm"], rtol=1e-9)

    version, rows = score_open_intakes(con, settings)
    scores = con.execute("select * from ml.intake_scores").df()
    assert version == registered.version and len(scores) == rows > 0
    assert scores["risk_score"].between(0, 1).all()
    assert (scores["model_version"] == registered.version).all()
    reasons = json.loads(scores["top_reasons"].iloc[0])
    assert {"feature", "value", "contribution"} <= set(reasons[0])
    scored = set(map(tuple, scores[KEY].values))
    labelled = set(map(tuple, con.execute("select agency_id, report_id from ml.labels").df().values))
    assert not scored & labelled  # report IDs are agency-local: keys are (agency_id, report_id)
    assert len(scored) + len(labelled) == con.execute("select count(*) from marts.intake_features").fetchall()[0][0]


def test_backtest_scores_every_intake_from_the_cutoff(world):
    result = world["backtest"]
    scores = pd.read_csv(result.out, dtype={"agency_id": str, "report_id": str})
    assert list(scores.columns) == ["agency_id", "report_id", "risk_score"]
    received = world["con"].execute(
        "select agency_id, report_id from valid.case_reports where received_at >= ?", [CUTOFF]).df()
    assert set(map(tuple, scores[KEY].values)) == set(map(tuple, received.values))
    assert scores["risk_score"].between(0, 1).all() and result.trained_on > 0
