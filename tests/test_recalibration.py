"""Recalibration of the champion on its latest closed window: same booster, new calibrator, judged by the gate on a
test part after the part it was fitted on; data scientists only, audited; the model page's button shows the verdict."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from kodomo import operational
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account, Session
from kodomo.settings import get_settings
from tests.conftest import copy_home

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")


def _account(role: str) -> Account:
    return Account(f"{role}-test", "テスト", "A001", role)


def _audit_rows(settings, action: str) -> list[dict]:
    with operational.connect(settings).connect() as con:
        rows = con.execute(select(operational.audit_log).where(operational.audit_log.c.action == action)).all()
    return [dict(r._mapping) for r in rows]


@pytest.fixture
def world_copy(scored_world, tmp_path, monkeypatch):
    """A copy of the scored world's home, its MLflow store pointing at the copy's artifacts: a recalibration
    registers versions and moves aliases, which the other tests read as they are."""
    home = tmp_path / "home"
    copy_home(scored_world["home"], home)
    monkeypatch.setenv("KODOMO_HOME", str(home))
    monkeypatch.setenv("KODOMO_ENV", "local")
    return get_settings()


def test_other_roles_may_not_recalibrate_and_nothing_is_recorded(tmp_path, monkeypatch):
    from ml.recalibration import REQUEST_RECALIBRATION, request_recalibration

    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    settings = get_settings()
    engine = operational.connect(settings)
    for role in ("caseworker", "supervisor", "manager", "admin"):
        with pytest.raises(AccessDenied, match=f"role {role} may not"):
            request_recalibration(engine, _account(role), settings)
    assert _audit_rows(settings, REQUEST_RECALIBRATION) == []
    assert not settings.mlflow_dir.exists()


def test_recalibration_keeps_the_booster_refits_the_calibrator_and_the_gate_judges_it_on_a_later_test_part(
        world_copy):
    import duckdb

    from ml.features import design_matrix, read_features
    from ml.pipeline import labelled
    from ml.promotion import evaluate_gates
    from ml.recalibration import REQUEST_RECALIBRATION, request_recalibration
    from ml.registry import (CHALLENGER, CHAMPION, DECISION_TAG, MODEL_NAME, PROMOTED, RECALIBRATION_OF_TAG,
                             RECALIBRATION_WINDOW_TAG, REJECTED, connect, load_baseline, load_version,
                             version_by_alias)
    from ml.store import LABELS, read_table

    client = connect(world_copy)
    champion = version_by_alias(client, CHAMPION)
    champion_test_from = pd.Timestamp(client.get_run(champion.run_id).data.params["test_from"])

    result = request_recalibration(operational.connect(world_copy), _account("data_scientist"), world_copy)

    [audit] = _audit_rows(world_copy, REQUEST_RECALIBRATION)
    assert audit["user_id"] == "data_scientist-test" and f"v{champion.version}" in audit["detail"]
    # Registered as the challenger, tagged with what it recalibrates and on which window.
    new = client.get_model_version(MODEL_NAME, result.registered.version)
    assert version_by_alias(client, CHALLENGER).version == new.version != champion.version
    assert new.tags[RECALIBRATION_OF_TAG] == str(champion.version) == result.source_version
    assert new.tags[RECALIBRATION_WINDOW_TAG] == str(result.window)
    window = result.window
    assert window.start == champion_test_from < window.test_from < window.end
    new_params = client.get_run(new.run_id).data.params
    assert pd.Timestamp(new_params["test_from"]) == window.test_from

    with duckdb.connect(str(world_copy.warehouse_path), read_only=True) as con:
        frame = labelled(read_features(con), read_table(con, LABELS))
    received = pd.to_datetime(frame["received_at"]).dt.floor("D")
    fitting = frame[(received >= window.start) & (received < window.test_from)]
    test = frame[received >= window.test_from].reset_index(drop=True).astype({"outcome": np.int64})
    assert (len(fitting), len(test)) == (result.fitting_intakes, result.test_intakes)
    assert pd.to_datetime(fitting["received_at"]).max() < pd.to_datetime(test["received_at"]).min()

    old_model, new_model = load_version(client, champion), load_version(client, new)
    X = design_matrix(test)
    np.testing.assert_array_equal(new_model.raw_score(X), old_model.raw_score(X))  # the same booster and margin
    new_p, old_p = new_model.predict_proba(X)[:, 1], old_model.predict_proba(X)[:, 1]
    assert np.max(np.abs(new_p - old_p)) > 1e-3  # a new calibrator
    # Fitted on the fitting part: its calibration-in-the-large there is (Platt's maximum likelihood) zero.
    fit_p = new_model.predict_proba(design_matrix(fitting))[:, 1]
    assert abs(fit_p.mean() - fitting["outcome"].mean()) < 1e-3

    # The gate's verdict is the one on the test part, against the champion on the same part; a monotone
    # recalibration keeps the ranking, so the AUCs are equal and calibration and subgroups decide.
    expected = evaluate_gates(new_model, test, load_baseline(client, champion), champion=old_model)
    decision = result.decision
    assert (decision.promote, decision.reasons) == (expected.promote, expected.reasons)
    assert decision.challenger_auc == pytest.approx(decision.champion_auc, abs=1e-12)
    assert decision.champion_version == str(champion.version)
    recorded = client.get_model_version(MODEL_NAME, new.version).tags[DECISION_TAG]
    assert recorded == (PROMOTED if decision.promote else REJECTED)
    assert version_by_alias(client, CHAMPION).version == (new.version if decision.promote else champion.version)


def test_the_model_page_recalibrates_for_a_data_scientist_and_shows_the_verdict(world_copy):
    from streamlit.testing.v1 import AppTest

    from ml.recalibration import REQUEST_RECALIBRATION

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["signed_in"] = Session.start(_account("data_scientist"), dt.datetime.now(dt.UTC))
    at.run()
    assert not at.exception, at.exception
    at.button(key="model.recalibrate").click().run()
    assert not at.exception, at.exception
    said = " ".join(m.value for m in [*at.success, *at.warning])
    assert "再較正" in said and ("昇格" in said or "見送り" in said), said
    assert len(_audit_rows(world_copy, REQUEST_RECALIBRATION)) == 1
