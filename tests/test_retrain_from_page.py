"""Retraining from the model page (a Dagster run in the background, followed on the page), the run lock's refusal,
and the gate's override with its written, audited reason."""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from kodomo import operational
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account, Session
from kodomo.settings import get_settings
from tests.conftest import copy_home

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
RUN_TIMEOUT_S = 240


def _account(role: str, agency: str = "A001") -> Account:
    return Account(f"{role}-test", "テスト", agency, role)


def _page(role: str = "data_scientist"):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["signed_in"] = Session.start(_account(role), dt.datetime.now(dt.UTC))
    return at


def _audit_rows(settings, action: str) -> list[dict]:
    engine = operational.connect(settings)
    with engine.connect() as con:
        rows = con.execute(select(operational.audit_log).where(operational.audit_log.c.action == action)).all()
    return [dict(r._mapping) for r in rows]


@contextlib.contextmanager
def _lock_held(settings):
    """The home's run lock as a running ``kodomo run`` holds it (``orchestration.lifecycle``)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.run_lock_path, "a+", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.truncate(0)
        lock.write(json.dumps({"pid": os.getpid(), "pgid": os.getpgrp(), "started": time.time()}))
        lock.flush()
        yield


def _override_button(at):
    return next(b for b in at.button if b.key and b.key.startswith("FormSubmitter:model.override_"))


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    return get_settings()


@pytest.fixture
def world_copy(scored_world, tmp_path, monkeypatch):
    """A copy of the scored world's home, its MLflow store pointing at the copy's artifacts: retraining changes the
    registry and the published warehouse, which the other tests read as they are."""
    home = tmp_path / "home"
    copy_home(scored_world["home"], home)
    monkeypatch.setenv("KODOMO_HOME", str(home))
    monkeypatch.setenv("KODOMO_ENV", "local")
    return get_settings()


def test_other_roles_may_neither_retrain_nor_override_and_nothing_is_recorded(empty_home):
    from ml.lifecycle import OVERRIDE_PROMOTION, override_promotion
    from orchestration.defs.ml.retraining import REQUEST_RETRAINING, request_retraining

    engine = operational.connect(empty_home)
    for role in ("caseworker", "supervisor", "manager", "admin"):
        with pytest.raises(AccessDenied, match=f"role {role} may not"):
            request_retraining(engine, _account(role), empty_home)
        with pytest.raises(AccessDenied, match=f"role {role} may not"):
            override_promotion(engine, _account(role), empty_home, "2", "better on recent data")
    assert _audit_rows(empty_home, REQUEST_RETRAINING) == [] == _audit_rows(empty_home, OVERRIDE_PROMOTION)
    assert not (empty_home.home / "retraining").exists()


def test_a_retraining_is_refused_while_another_run_holds_the_home(empty_home):
    from orchestration.defs.ml.retraining import REFUSED, REQUEST_RETRAINING, main, retraining_progress

    with _lock_held(empty_home):
        at = _page()
        at.run()
        assert not at.exception, at.exception
        at.button(key="model.retrain").click().run()
        assert not at.exception, at.exception
        refusal = " ".join(e.value for e in at.error)
        assert "再学習を開始できません" in refusal and f"pid {os.getpid()}" in refusal
        assert _audit_rows(empty_home, REQUEST_RETRAINING) == []
        # The background process itself, should another run take the lock after the page looked: it says so.
        assert main(["--home", str(empty_home.home), "--run-id", "r-1", "--requested-by", "ds-test"]) == 1
    progress = retraining_progress(empty_home, "r-1")
    assert progress.status == REFUSED and progress.finished and f"pid {os.getpid()}" in progress.message


def test_retraining_from_the_page_runs_the_ml_job_on_the_dagster_instance_and_the_override_needs_a_reason(
        world_copy):
    import dagster as dg
    import duckdb

    from ml.lifecycle import OVERRIDE_PROMOTION, override_promotion
    from ml.registry import (CHALLENGER, CHAMPION, DECISION_TAG, MODEL_NAME, OVERRIDE_REASON_TAG, REJECTED, connect,
                             version_by_alias)
    from orchestration.defs.ml.retraining import (ORIGIN_TAG, REQUEST_RETRAINING, request_retraining,
                                                  retraining_progress)
    from orchestration.lifecycle import RunRefused

    settings = world_copy
    client = connect(settings)
    champion_before = str(version_by_alias(client, CHAMPION).version)
    at = _page()
    at.run()
    assert not at.exception, at.exception
    at.button(key="model.retrain").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["model.retraining_run"]
    assert any(run_id in m.value for m in at.markdown), [m.value for m in at.markdown]
    [audit] = _audit_rows(settings, REQUEST_RETRAINING)
    assert audit["user_id"] == "data_scientist-test" and run_id in audit["detail"]

    started, refused = time.monotonic(), None
    while not (progress := retraining_progress(settings, run_id)).finished:
        assert time.monotonic() - started < RUN_TIMEOUT_S, progress
        if refused is None and progress.status == "STARTED":
            # The run holds the home: a second request is refused with the holder named, and not audited.
            with pytest.raises(RunRefused, match="another kodomo run is using") as refused:
                request_retraining(operational.connect(settings), _account("data_scientist"), settings)
        time.sleep(2)
    elapsed = time.monotonic() - started
    log = (settings.home / "retraining" / f"{run_id}.log").read_text(encoding="utf-8")
    assert progress.status == "SUCCESS", (progress, log[-3000:])
    assert refused is not None and len(_audit_rows(settings, REQUEST_RETRAINING)) == 1
    steps = dict(progress.steps)
    assert {"ml__labels", "ml__child_risk_model", "ml__promotion", "ml__intake_scores", "ml__model_drift"} <= set(
        steps) and set(steps.values()) == {"SUCCESS"}, steps
    print(f"retraining run took {elapsed:.0f} s")

    # The run is the persistent instance's (what `make dagster` shows), tagged as the page's.
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.get_run_by_id(run_id).tags[ORIGIN_TAG] == "model_page"
    # Published: the drift table is the new asset's; the new challenger is registered and judged by the gate.
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from ml.model_drift").fetchone()[0] > 2
    challenger = version_by_alias(client, CHALLENGER)
    assert str(challenger.version) != champion_before and challenger.tags[DECISION_TAG] in ("promoted", REJECTED)

    at.run()  # the page reads the finished run
    assert not at.exception, at.exception
    assert any("再学習が完了しました" in s.value for s in at.success)
    assert any("ml__model_drift" in set(d.value.iloc[:, 0]) for d in at.dataframe)

    if challenger.tags[DECISION_TAG] != REJECTED:
        pytest.skip("the retrained challenger passed the gate: no override to test on this world")
    # At the data layer: a blank reason, and a version the gate did not reject, are refused before anything is written.
    engine, scientist = operational.connect(settings), _account("data_scientist")
    with pytest.raises(ValueError, match="needs a written reason"):
        override_promotion(engine, scientist, settings, str(challenger.version), "  \n ")
    with pytest.raises(ValueError, match="not rejected by the gate"):
        override_promotion(engine, scientist, settings, champion_before, "it is better")
    _override_button(at).click().run()  # on the page, no reason written
    assert not at.exception, at.exception
    assert any("理由が未記入です" in e.value for e in at.error)
    assert _audit_rows(settings, OVERRIDE_PROMOTION) == []
    assert str(version_by_alias(client, CHAMPION).version) == champion_before

    reason = "直近の四半期で較正が改善しているため（検証済み）"
    at.text_area(key=f"model.override_reason_{challenger.version}").input(reason)
    _override_button(at).click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    [override] = _audit_rows(settings, OVERRIDE_PROMOTION)
    assert reason in override["detail"] and f"v{challenger.version}" in override["detail"]
    assert override["user_id"] == "data_scientist-test"
    promoted = client.get_model_version(MODEL_NAME, challenger.version)
    assert promoted.tags[OVERRIDE_REASON_TAG] == reason and promoted.tags[DECISION_TAG] == REJECTED
    assert str(version_by_alias(client, CHAMPION).version) == str(challenger.version)
    assert any(str(challenger.version) in s.value for s in at.success)
