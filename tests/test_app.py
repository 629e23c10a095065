"""The Streamlit app on a real platform: a generated `small` world, its warehouse, a registered champion and
scored open intakes, all built once by the platform's own code; pages driven headless with AppTest."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.i18n import LANGUAGES, TEXT, t
from app.model_info import promotion_reason
from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account, Session, create_demo_accounts
from kodomo.contracts import contract
from kodomo.operational import audit_log, connect, decision_codes, worker_decisions
from kodomo.settings import get_settings
from ml import assessment
from ml.explain import grouped_contributions
from ml.features import assessment_items, design_matrix, feature_groups, read_features
from ml.registry import CHAMPION, connect as connect_registry, load_version, version_by_alias

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "main.py"


@pytest.fixture(scope="module")
def platform(scored_world):
    """The scored world (conftest), with what the tests compare the pages with, and a demo caseworker."""
    home = scored_world["home"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(home))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        engine = connect(settings)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            features = read_features(con)
            scored = con.execute("select * from ml.intake_scores").df().merge(
                features[["agency_id", "report_id", "has_assessment"]], on=["agency_id", "report_id"])
            agencies = load_agencies(con)
        client = connect_registry(settings)
        champion = version_by_alias(client, CHAMPION)
        model = load_version(client, champion)
        worker = next(d.account for d in create_demo_accounts(engine, settings, agencies)
                      if d.account.role == "caseworker")
    mine = scored["agency_id"].map(lambda a: agencies[a].jurisdiction) == agencies[worker.agency_id].jurisdiction
    return {"home": home, "scored": scored, "features": features, "champion": champion, "model": model,
            "client": client, "worker": worker, "mine": scored[mine], "engine": engine}


@pytest.fixture(autouse=True)
def environment(platform, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(platform["home"]))
    monkeypatch.setenv("KODOMO_ENV", "local")


@pytest.fixture(scope="module")
def chosen(platform):
    """The assessed open intake of the worker's jurisdiction with the most missing items: its what-ifs say most."""
    scored, features = platform["mine"], platform["features"]
    assessed = features.merge(scored[scored["has_assessment"] == 1][["agency_id", "report_id"]])
    missing = assessed.apply(lambda row: len(assessment.missing_items(row.to_frame().T)), axis=1)
    row = assessed.loc[missing.idxmax()]
    score = scored.set_index(["agency_id", "report_id"]).loc[(row["agency_id"], row["report_id"])]
    return {"agency": row["agency_id"], "report": row["report_id"], "person_key": row["person_key"],
            "features": assessed.loc[[missing.idxmax()]].reset_index(drop=True), "score": float(score["risk_score"]),
            "reasons": json.loads(score["top_reasons"]), "version": str(score["model_version"])}


def _app(worker: Account | None, language: str = "ja") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    if worker is not None:
        at.session_state["signed_in"] = Session.start(worker, dt.datetime.now(dt.UTC))
    at.run()
    if language != "ja":
        at.sidebar.radio(key="language").set_value(language).run()
    return at


def _open(at: AppTest, intake: dict, purpose: str = "") -> AppTest:
    at.text_input(key="queue.lookup").input(intake["report"])
    at.text_input(key="queue.purpose").input(purpose)
    return next(b for b in at.button if b.label == t("open")).click().run()


def _rows(table) -> list[dict]:
    engine = connect(get_settings())
    with engine.connect() as con:
        rows = [dict(r._mapping) for r in con.execute(select(table).order_by(table.c.id))]
    engine.dispose()
    return rows


def _table(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_both_languages_have_the_same_texts_and_name_everything_the_contracts_and_model_have():
    assert TEXT["ja"].keys() == TEXT["en"].keys() and LANGUAGES == ("ja", "en")
    codes = {code for item in assessment_items() for code in item.codes}
    needed = {f"feature.{i.name}" for i in assessment_items()} | {f"code.{c}" for c in codes}
    needed |= {f"feature.{g}" for g in set(feature_groups().values())}
    needed |= {f"route.{c}" for c in contract("case_reports").column("route").codes}
    needed |= {f"decision.{c}" for c in decision_codes()} | {f"question.q{i}" for i in range(1, 9)}
    needed |= {f"verdict.{v}" for v in range(4)}
    assert needed <= TEXT["ja"].keys()


def test_every_page_says_the_data_are_synthetic_and_nothing_about_a_child_shows_before_sign_in():
    logged = len(_rows(audit_log))
    at = _app(None)
    assert "合成データ" in at.warning[0].value and at.title[0].value == t("sign_in_title")
    assert not at.dataframe and not at.metric
    at.sidebar.radio(key="language").set_value("en").run()
    assert "synthetic" in at.warning[0].value
    assert len(_rows(audit_log)) == logged
    assert "kodomo generate" not in t("synthetic_banner")


def test_the_intake_page_shows_the_stored_probability_the_report_and_audits_the_view(platform, chosen):
    before = len(_rows(audit_log))
    at = _open(_app(platform["worker"]), chosen)
    assert not at.exception
    [metric] = at.metric
    assert metric.value == f"{chosen['score']:.1%}" and metric.label == "虐待が確認された再通告または重大な被害（1年以内）の確率"
    caption = " ".join(c.value for c in at.caption)
    assert "合成データ" in caption and f"予測モデル（第{chosen['version']}版）" in caption
    view = _rows(audit_log)[before:]
    assert [(r["user_id"], r["role"], r["action"], r["agency_id"], r["report_id"], r["person_key"]) for r in view] == [
        (platform["worker"].user_id, "caseworker", "view_intake", chosen["agency"], chosen["report"],
         chosen["person_key"])]
    text = " ".join(m.value for m in at.markdown)
    assert t("route_label") in text and t("safety_check") in text and "歳" in text
    answers = pd.concat([d.value for d in at.dataframe if t("col_answer") in d.value.columns])
    assert len(answers) == 21 and set(answers[t("col_answer")]) <= {"はい", "いいえ", "不明", "未記録", "なし", "軽度",
                                                                   "中等度", "重度", "軽い訴え", "深刻な訴え"}
    history = _table(at, t("col_count"))
    assert len(history) == 12
    reasons = _table(at, t("col_points"))
    assert len(reasons) >= 1 and all(v.startswith(("+", "-")) for v in reasons[t("col_points")])
    page = " ".join(e.value for kind in (at.markdown, at.caption, at.info, at.warning, at.subheader) for e in kind)
    assert "SHAP" not in page and "対数オッズ" not in page and "child_risk" not in page and "kodomo" not in page


@pytest.mark.parametrize("end", ["highest", "lowest"])
def test_the_review_threshold_is_judged_on_the_shown_probability(platform, end):
    scored = platform["scored"].sort_values("risk_score", ascending=end == "lowest").iloc[0]
    at = _open(_app(platform["worker"]), {"agency": scored["agency_id"], "report": scored["report_id"]},
               purpose="テストのための確認")
    threshold = platform["model"].review_threshold
    above = scored["risk_score"] >= threshold
    assert above == (end == "highest")  # a world whose scores straddle the threshold
    shown = [e.value for e in (at.warning if above else at.info)]
    assert t("above_threshold" if above else "below_threshold", threshold=f"{threshold:.1%}") in shown
    if not above:  # below the threshold is not reassurance
        assert any("安全という意味ではありません" in s for s in shown)


def test_an_intake_is_not_shown_when_its_view_cannot_be_audited(platform, chosen, monkeypatch):
    from kodomo.appdata import access

    def refuse(*_):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(access, "log_access", refuse)
    at = _open(_app(platform["worker"]), chosen)
    assert at.exception and not at.metric


def test_missing_information_what_ifs_move_the_probability_the_way_the_reasons_say(platform, chosen):
    model, features = platform["model"], chosen["features"]
    table = assessment.what_ifs(model, features)
    assert set(table["item"]) == set(assessment.missing_items(features)) and len(table) >= 4
    current = assessment.probabilities(model, features).iloc[0]
    assert current == pytest.approx(chosen["score"], abs=1e-9)  # rescoring reproduces the stored score

    def shap(frame: pd.DataFrame) -> pd.Series:
        return grouped_contributions(model.contributions(design_matrix(frame))).iloc[0]

    now = shap(features)
    for row in table.itertuples():
        change = shap(assessment.found_out(features, row.item, row.value)) - now
        if abs(row.change) > 1e-6:  # SHAP values add up to the log-odds: the total moves with the probability
            assert np.sign(row.change) == np.sign(change.sum())
        if abs(row.change) >= 0.02:  # a clear move comes from the item itself, not from its interactions
            assert np.sign(row.change) == np.sign(change[row.item]), (row.item, row.value)

    at = _open(_app(platform["worker"]), chosen)
    shown = _table(at, t("col_change"))
    assert list(shown[t("col_change")]) == [f"{100 * c:+.1f}" for c in table["change"]]


def test_finding_out_an_item_of_an_unassessed_intake_implies_an_assessment(chosen):
    items = [i.name for i in assessment_items()]
    blank = chosen["features"].assign(has_assessment=0, **{item: None for item in items})
    assert assessment.missing_items(blank) == items
    found = assessment.found_out(blank, "domestic_violence", "yes")
    assert found["has_assessment"].iloc[0] == 1 and found["domestic_violence"].iloc[0] == "yes"
    assert (found[[i for i in items if i != "domestic_violence"]] == "unknown").all(axis=None)


def test_the_checklist_stands_beside_the_model_under_its_official_name(platform, chosen):
    at = _open(_app(platform["worker"]), chosen)
    assert any(s.value == "一時保護決定に向けてのアセスメントシート" for s in at.subheader)
    answers, verdict = assessment.checklist(chosen["features"])
    [sheet] = [m.value for m in at.markdown if "①" in m.value]
    lines = sheet.splitlines()
    assert len(lines) == 8
    assert [line.startswith("- ✅") for line in lines] == list(answers)
    assert all(t(f"question.q{i}") in lines[i - 1] for i in range(1, 9))  # whole questions, never cut
    boxes = [e.value for kind in (at.error, at.warning, at.info) for e in kind]
    assert t("verdict", verdict=t(f"verdict.{verdict}")) in boxes


def test_a_decision_is_the_workers_needs_a_rationale_and_keeps_what_was_shown(platform, chosen):
    stored = len(_rows(worker_decisions))
    at = _open(_app(platform["worker"]), chosen)
    disposition = next(r for r in at.radio if ".disposition@" in r.key)
    assert disposition.value is None  # the model never pre-selects
    disposition.set_value("home_guidance")
    next(b for b in at.button if b.label == t("submit")).click().run()
    assert t("rationale_missing") in [e.value for e in at.error] and len(_rows(worker_decisions)) == stored

    next(r for r in at.radio if ".disposition@" in r.key).set_value("home_guidance")
    next(a for a in at.text_area if a.key.endswith(".rationale")).input("家庭訪問で養育状況を確認する")
    next(b for b in at.button if b.label == t("submit")).click().run()
    assert at.success
    [saved] = _rows(worker_decisions)[stored:]
    assert (saved["agency_id"], saved["report_id"], saved["worker_id"], saved["decision"], saved["disposition"]) == (
        chosen["agency"], chosen["report"], platform["worker"].user_id, "no_protect", "home_guidance")
    assert saved["risk_score_shown"] == pytest.approx(chosen["score"]) and saved["model_version"] == chosen["version"]
    at.run()
    assert next(r for r in at.radio if ".disposition@" in r.key).value is None  # a fresh form for the next
    history = _table(at, t("col_rationale"))
    assert "家庭訪問で養育状況を確認する" in list(history[t("col_rationale")])

    # An amendment is a new row naming the one it amends.
    next(r for r in at.radio if ".disposition@" in r.key).set_value("continued_investigation")
    next(a for a in at.text_area if a.key.endswith(".rationale")).input("学校からの追加情報を待つ")
    next(b for b in at.button if b.label == t("submit")).click().run()
    first, amended = _rows(worker_decisions)[stored:]
    assert amended["amends"] == first["id"] and amended["disposition"] == "continued_investigation"


def test_switching_to_english_changes_the_labels_and_keeps_the_intake_and_typed_rationale(platform, chosen):
    at = _open(_app(platform["worker"]), chosen)
    assert at.metric[0].label == t("probability", "ja")
    next(a for a in at.text_area if a.key.endswith(".rationale")).input("途中まで書いた理由").run()
    at.sidebar.radio(key="language").set_value("en").run()
    assert at.metric[0].label == t("probability", "en") != t("probability", "ja")
    assert any("SYNTHETIC" in c.value for c in at.caption) and at.metric[0].value == f"{chosen['score']:.1%}"
    assert next(a for a in at.text_area if a.key.endswith(".rationale")).value == "途中まで書いた理由"


def test_the_model_page_shows_the_champion_and_its_test_auc(platform):
    data_scientist = Account("ds-test", "分析担当", platform["worker"].agency_id, "data_scientist")
    at = _app(data_scientist)
    assert not at.exception
    run = platform["client"].get_run(platform["champion"].run_id)
    metrics = at.dataframe[0].value
    assert metrics.loc["lightgbm", "auc"].startswith(f"{run.data.metrics['test_lightgbm_auc']:.3f}")
    assert metrics.loc["checklist", "auc"].startswith(f"{run.data.metrics['test_checklist_auc']:.3f}")
    text = " ".join(m.value for m in at.markdown)
    assert t("promotion", decision=t("promoted")) in text
    key, values = promotion_reason(run.data.tags["promotion.reasons"].split("; ")[0])
    assert t(key, **values) in text
    assert any(f"第{platform['champion'].version}版" in m.value for m in at.markdown)


def test_without_a_warehouse_the_page_says_so_plainly(platform, tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "empty"))
    at = _app(platform["worker"])
    assert t("no_warehouse") in at.info[0].value and not at.exception


def test_an_unreadable_warehouse_is_said_in_plain_japanese(platform, tmp_path, monkeypatch):
    home = tmp_path / "unreadable"
    home.mkdir()
    (home / "warehouse.duckdb").write_text("not a DuckDB file", encoding="utf-8")
    monkeypatch.setenv("KODOMO_HOME", str(home))
    at = _app(platform["worker"])
    assert [e.value for e in at.error] == [t("warehouse_unavailable")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_app_starts_for_real(platform):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "KODOMO_HOME": str(platform["home"])})
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and health != "ok":
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    health = response.read().decode()
            except OSError:
                time.sleep(0.5)
        assert health == "ok"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
