"""The data scientists' model operations: the registered pyfunc, metric intervals, the subgroup gate, drift, the page."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import duckdb
import numpy as np
import pandas as pd
import pytest

from kodomo.settings import get_settings

# Run in a fresh interpreter: only MLflow and the installed package, nothing this test process imported or set.
_SCORE_BY_ALIAS = textwrap.dedent("""
    import sys
    import duckdb
    import mlflow.pyfunc

    warehouse, out = sys.argv[1], sys.argv[2]
    with duckdb.connect(warehouse, read_only=True) as con:
        features = con.execute("select * from marts.intake_features").df()
    scored = mlflow.pyfunc.load_model("models:/child_risk@champion").predict(features)
    scored.insert(0, "report_id", features["report_id"].to_numpy())
    scored.insert(0, "agency_id", features["agency_id"].to_numpy())
    scored.to_parquet(out)
""")


def test_the_champion_loaded_by_alias_in_a_fresh_process_scores_as_the_intake_scores(scored_world, monkeypatch,
                                                                                      tmp_path):
    monkeypatch.setenv("KODOMO_HOME", str(scored_world["home"]))
    settings = get_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KODOMO_"))}
    env["MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
    out = tmp_path / "scored.parquet"
    subprocess.run([sys.executable, "-c", _SCORE_BY_ALIAS, str(settings.warehouse_path), str(out)], env=env,
                   cwd=tmp_path, check=True, timeout=300)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        expected = con.execute("select agency_id, report_id, risk_score, top_reasons::varchar as top_reasons "
                               "from ml.intake_scores").df()
    got = pd.read_parquet(out).merge(expected, on=["agency_id", "report_id"], suffixes=("", "_expected"))
    assert len(expected) > 50 and len(got) == len(expected)
    np.testing.assert_allclose(got["risk_score"], got["risk_score_expected"], rtol=0, atol=1e-12)
    assert [json.loads(r) for r in got["top_reasons"]] == [json.loads(r) for r in got["top_reasons_expected"]]
    assert (got["interval_low"] <= got["risk_score"]).all() and (got["risk_score"] <= got["interval_high"]).all()


def test_the_pyfunc_names_the_columns_it_lacks():
    from ml.pyfunc import ChildRiskModel

    with pytest.raises(ValueError, match="route"):
        ChildRiskModel(model=None).predict(None, pd.DataFrame({"age_years": [3.0]}))


def _simulated_slice(rng: np.random.Generator, n: int, miscalibration: float) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a model and outcomes drawn from the true ones (``miscalibration`` 0: the model is right)."""
    probability = rng.beta(2, 6, size=n)
    truth = np.clip(probability + 4 * miscalibration * probability * (1 - probability), 0, 1)
    return (rng.random(n) < truth).astype(int), probability


def _population_ece(miscalibration: float) -> float:
    """The binned ECE of the simulated model on its whole population (a very large sample)."""
    from ml.evaluate import ECE_BINS

    probability = np.random.default_rng(99).beta(2, 6, size=2_000_000)
    gap = 4 * miscalibration * probability * (1 - probability)
    bins = np.minimum((probability * ECE_BINS).astype(int), ECE_BINS - 1)
    return float(np.abs(np.bincount(bins, weights=gap, minlength=ECE_BINS)).sum() / len(probability))


@pytest.mark.parametrize("miscalibration", [0.0, 0.03])
def test_the_ece_interval_holds_its_point_and_covers_the_true_ece_at_about_the_nominal_rate(miscalibration):
    from ml.evaluate import BIAS_CORRECTED, bootstrap_indices, calibration_error, estimate, expected_calibration_error

    true_ece, rng, repetitions = _population_ece(miscalibration), np.random.default_rng(7), 80
    covered = percentile_covered = 0
    for repetition in range(repetitions):
        y, probability = _simulated_slice(rng, 1500, miscalibration)
        resamples = bootstrap_indices(np.arange(len(y)), samples=200, seed=repetition)
        ece = calibration_error(y, probability, resamples, seed=repetition)
        assert ece.method == BIAS_CORRECTED and ece.low <= ece.value <= ece.high
        covered += ece.low <= true_ece <= ece.high
        percentile = estimate(expected_calibration_error, y, probability, resamples)
        percentile_covered += percentile.low <= true_ece <= percentile.high
    assert covered / repetitions >= 0.88
    # What the page showed before: the percentile interval of the plug-in ECE misses a calibrated model's 0.
    if miscalibration == 0:
        assert percentile_covered == 0


def _subgroup_rows(group_auc: float, group_ece: float = 0.02, n: int = 300, positives: int = 30) -> pd.DataFrame:
    """A subgroup table as ``ml.fairness.subgroup_table`` gives it: the whole slice at AUC 0.80, one group."""
    return pd.DataFrame([
        {"dimension": "all", "group": "all", "n": 5000, "positives": 900, "status": "ok", "auc": 0.80, "ece": 0.02,
         "fpr": 0.15, "fnr": 0.40},
        {"dimension": "age_band", "group": "0-2", "n": n, "positives": positives, "status": "ok", "auc": group_auc,
         "ece": group_ece, "fpr": 0.15, "fnr": 0.40},
    ])


@pytest.mark.parametrize(("group_auc", "group_ece", "n", "positives", "blocked"), [
    (0.65, 0.02, 300, 30, False),   # the gap widened by exactly 0.05 AUC: at the limit, passes
    (0.649, 0.02, 300, 30, True),   # 0.001 beyond
    (0.70, 0.10, 300, 30, False),   # ECE in the group exactly at its limit
    (0.70, 0.101, 300, 30, True),
    (0.50, 0.30, 299, 30, False),   # too few intakes to judge: reported, never gating
    (0.50, 0.30, 300, 29, False),   # too few outcomes
    (0.50, 0.30, 300, 30, True),
])
def test_the_subgroup_gate_at_its_boundaries(group_auc, group_ece, n, positives, blocked):
    from ml.fairness import gap_violations

    baseline = _subgroup_rows(0.70)  # the run's logistic regression: the group's gap is 0.10 in the data
    problems = gap_violations(_subgroup_rows(group_auc, group_ece, n, positives), baseline)
    assert bool(problems) == blocked, problems


def test_the_subgroup_reference_is_the_runs_baseline_not_the_champion():
    """A champion that was let through with a wide gap does not license its successor to keep it."""
    from ml.promotion import evaluate_gates

    class Scores:
        """A model whose probabilities are given per intake (the test slice's row order)."""

        def __init__(self, probability, threshold=0.5):
            self.probability, self.review_threshold = np.asarray(probability), threshold

        def predict_proba(self, X):
            return np.column_stack([1 - self.probability, self.probability])

    rng = np.random.default_rng(11)
    n = 4000
    infant = np.arange(n) < 1000
    truth = rng.beta(1, 3, n)
    y = (rng.random(n) < truth).astype(int)
    features = _intake_frame(n, age=np.where(infant, 1.0, 9.0)).assign(outcome=y)
    blind = truth.copy()
    blind[infant] = rng.permutation(truth[infant])  # no ranking left among infants
    # The champion is as blind: only the run's baseline shows that infants can be ranked.
    decision = evaluate_gates(Scores(blind, 0.45), features, Scores(truth), champion=Scores(blind, 0.45))
    assert not decision.promote
    assert any(r.startswith("subgroup gap: age_band=0-2: AUC gap") for r in decision.reasons), decision.reasons


def _intake_frame(n: int, age: np.ndarray) -> pd.DataFrame:
    """``n`` intakes of the mart's columns with no assessment, all else zero, the given ages."""
    from ml.features import HISTORY_FEATURES, abuse_type_codes, assessment_items

    frame = pd.DataFrame({"age_years": age, "has_assessment": 0,
                          **{c: 0 for c in HISTORY_FEATURES}, **{f"abuse_{t}": False for t in abuse_type_codes()},
                          "route": "police", "prefecture_code": "11", "agency_type": "municipality"})
    for item in assessment_items():
        frame[item.name] = None
    return frame


def test_mlflow_ui_serves_the_environments_registry(scored_world, monkeypatch, tmp_path):
    import socket
    import time
    import urllib.request

    from ml.mlflow_ui import server_command

    monkeypatch.setenv("KODOMO_HOME", str(scored_world["home"]))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = server_command(get_settings(), port=port)
    assert command[command.index("--backend-store-uri") + 1] == get_settings().mlflow_tracking_uri
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=(tmp_path / "server.log").open("w"),
                              start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/alias?name=child_risk&alias=champion"
        deadline = time.monotonic() + 180  # a loaded machine takes up to a minute
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-2000:]
                time.sleep(1)
        assert body["model_version"]["name"] == "child_risk" and "champion" in body["model_version"]["aliases"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def _champion_and_data(scored_world, monkeypatch):
    """The scored world's champion, the start of its validation slice, its features and labels."""
    from ml.features import read_features
    from ml.registry import CHAMPION, connect, load_version, version_by_alias
    from ml.store import LABELS, read_table

    monkeypatch.setenv("KODOMO_HOME", str(scored_world["home"]))
    settings = get_settings()
    client = connect(settings)
    champion = version_by_alias(client, CHAMPION)
    valid_from = pd.Timestamp(client.get_run(champion.run_id).data.params["valid_from"])
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        features, labels = read_features(con), read_table(con, LABELS)
    return load_version(client, champion), valid_from, features, labels


def _shifted(features: pd.DataFrame, labels: pd.DataFrame, after: pd.Timestamp, points: float) -> pd.DataFrame:
    """A copy of the labels whose outcome rate is ``points`` higher for intakes received from ``after``."""
    received = labels[["agency_id", "report_id"]].merge(features[["agency_id", "report_id", "received_at"]],
                                                        on=["agency_id", "report_id"], how="left")["received_at"]
    late = (pd.to_datetime(received) >= after).to_numpy()
    negatives = late & (labels["outcome"].to_numpy() == 0)
    rng = np.random.default_rng(0)
    flip = negatives & (rng.random(len(labels)) < points / negatives[late].mean())
    return labels.assign(outcome=np.where(flip, 1, labels["outcome"]))


def test_drift_alerts_when_the_outcome_rate_shifts_by_five_points_after_training_and_not_otherwise(
        scored_world, monkeypatch):
    from ml.drift import TRAINING, drift_report

    model, valid_from, features, labels = _champion_and_data(scored_world, monkeypatch)
    steady = drift_report(model, features, labels, valid_from)
    assert steady["window"].iloc[0] == TRAINING and len(steady) > 2
    assert not steady["alert"].any(), steady
    shifted = drift_report(model, features, _shifted(features, labels, valid_from, 0.05), valid_from)
    later = shifted.iloc[1:]
    assert shifted["alert"].any(), shifted
    assert later["positive_share_change"].mean() == pytest.approx(
        steady.iloc[1:]["positive_share_change"].mean() + 0.05, abs=0.01)


def test_the_model_page_shows_runs_sides_subgroups_and_drift_in_both_languages(scored_world, monkeypatch):
    import datetime as dt
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from app.i18n import _MODEL_PAGE as _TEXT
    from kodomo.appdata.accounts import Account, Session

    monkeypatch.setenv("KODOMO_HOME", str(scored_world["home"]))
    monkeypatch.setenv("KODOMO_ENV", "local")
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        agency = con.execute("select agency_id from ml.intake_scores limit 1").fetchone()[0]
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app" / "main.py"), default_timeout=120)
    at.session_state["signed_in"] = Session.start(Account("ds-test", "分析担当", agency, "data_scientist"),
                                                  dt.datetime.now(dt.UTC))
    at.run()
    assert not at.exception, at.exception
    headers = [h.value for h in at.header]
    for key in ("model.side_by_side", "model.runs", "model.drift"):
        assert _TEXT[key][0] in headers
    assert _TEXT["model.subgroups"][0] in [s.value for s in at.subheader]
    tables = [d.value for d in at.dataframe]
    runs = next(t for t in tables if "run_id" in t.columns)
    assert "champion" in runs.loc[0, "aliases"] and runs.loc[0, "ece"].count("[") == 1
    groups = next(t for t in tables if "dimension" in t.columns)
    assert {"age_band", "agency_type", "prefecture"} <= set(groups["dimension"])
    drift_table = next(t for t in tables if "calibration_in_the_large" in t.columns)
    assert drift_table["window"].iloc[0] == "training"
    at.sidebar.radio(key="language").set_value("en").run()
    assert not at.exception and _TEXT["model.drift"][1] in [h.value for h in at.header]
