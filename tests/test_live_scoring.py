"""``kodomo score`` and the app's ``assess_entry`` (ml/live_scoring.py) on a real platform: a generated `small` world
built, trained, promoted and scored by the platform's own code; its intakes replayed as new input lines must score
as the batch did and find their child, with an interval and the candidates' evidence; a bad line is an error line
that leaves the others scored; without a champion the checklist still stands; what-ifs respect the child's age."""
from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from kodomo.cli import main
from kodomo.settings import get_settings
from ml.assessment import CHILD_ACCOUNT_ITEMS, what_ifs
from ml.calibrate import ProbabilityCalibrator, jeffreys_interval, neighbourhood
from ml.features import read_features
from ml.live_scoring import LiveAssessment, assess_entry, intake_lines, load_champion, raw_fields, validate
from ml.scoring import score_intakes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform(scored_world):
    """The scored world (conftest) and what the batch scored: the lines to replay and the stored scores."""
    root, home = scored_world["root"], scored_world["home"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        lines = intake_lines(con)
        batch = con.execute("""select s.agency_id, s.report_id, s.risk_score, s.model_version, i.person_key
                               from ml.intake_scores s join intermediate.int_intakes i using (agency_id, report_id)
                            """).df()
    return {"root": root, "home": home, "lines": lines, "batch": batch}


@pytest.fixture(autouse=True)
def environment(platform, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(platform["home"]))
    monkeypatch.setenv("KODOMO_ENV", "local")


def _score(platform, lines: list[str], capsys) -> list[dict]:
    path = platform["root"] / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["score", "--batch", str(path), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_replayed_intakes_score_as_the_batch_and_find_their_child(platform, capsys):
    lines = platform["lines"]
    results = _score(platform, [line for _, _, line in lines], capsys)
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1)) and len(lines) > 100
    scored = pd.DataFrame([{"agency_id": a, "report_id": r, **result} for (a, r, _), result in zip(lines, results)])
    both = scored.merge(platform["batch"], on=["agency_id", "report_id"], suffixes=("", "_batch"))
    assert len(both) == len(lines)
    agrees = ((both["risk_score"] - both["risk_score_batch"]).abs() < 0.005) & (both["match"] == "existing") \
        & (both["person_key"] == both["person_key_batch"])
    assert agrees.mean() >= 0.98
    assert (both["model_version"] == both["model_version_batch"].astype(str)).all()
    assert set(both["band"]) <= {"low", "medium", "high"} and both["band"].nunique() > 1
    assert all(r["contribution"] > 0 for reasons in both["reasons"] for r in reasons)
    assert both["checklist_verdict"].isin({"emergency_protection", "protection_before_next_incident",
                                           "intensive_support", "no_concern"}).all()
    low, high = zip(*both["interval"])
    assert (pd.Series(low) <= both["risk_score"]).all() and (both["risk_score"] <= pd.Series(high)).all()
    assert (pd.Series(high) - pd.Series(low) > 0).all()
    best = both["candidates"].str[0]
    assert (best.str["person_key"] == both["person_key"]).mean() >= 0.98
    assert {"name", "kana", "birth_date"} <= set(best.iloc[0]["agreeing"]) and best.iloc[0]["agencies"]


def test_every_intake_replayed_scores_as_the_batch_scores_its_mart_row(platform, capsys):
    """The issue's parity over every intake, not only the open ones the pipeline stores."""
    lines = intake_lines_every(platform)
    results = _score(platform, [line for _, _, line in lines], capsys)
    live = pd.DataFrame([{"agency_id": a, "report_id": r, **result} for (a, r, _), result in zip(lines, results)])
    with duckdb.connect(str(platform["home"] / "warehouse.duckdb"), read_only=True) as con:
        batch = score_intakes(load_champion(get_settings()).model, read_features(con))
    both = live.merge(batch, on=["agency_id", "report_id"], suffixes=("", "_batch"))
    assert len(both) == len(lines) > len(platform["lines"])
    assert ((both["risk_score"] - both["risk_score_batch"]).abs() < 0.005).mean() >= 0.98
    assert (both["person_key"] == both["person_key_batch"]).mean() >= 0.98


def intake_lines_every(platform):
    with duckdb.connect(str(platform["home"] / "warehouse.duckdb"), read_only=True) as con:
        return intake_lines(con, every_intake=True)


def test_an_unknown_child_is_new_with_a_pseudonymous_key(platform, capsys):
    line = json.loads(platform["lines"][0][2])
    line["child"] |= {"name": "存在 しない", "kana": "ソンザイ シナイ"}
    [result] = _score(platform, [json.dumps(line, ensure_ascii=False)], capsys)
    assert result["match"] == "new" and result["person_key"].startswith("P")
    assert "存在" not in result["person_key"] and 0 <= result["risk_score"] <= 1


def test_a_bad_line_is_an_error_naming_the_field_and_the_others_still_score(platform, capsys):
    good = [line for _, _, line in platform["lines"][:3]]
    bad_route = json.loads(good[1]) | {"route": "carrier_pigeon"}
    bad_item = json.loads(good[0])
    bad_item["assessment"]["injury_present"] = "maybe"
    lines = [good[0], json.dumps(bad_route, ensure_ascii=False), good[2], "not json",
             json.dumps(bad_item, ensure_ascii=False)]
    results = _score(platform, lines, capsys)
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    assert set(results[1]) == {"line", "error"} and results[1]["error"].startswith("route:")
    assert "JSON" in results[3]["error"]
    assert results[4]["error"].startswith("assessment.injury_present:")
    assert "risk_score" in results[0] and "risk_score" in results[2]
    alone = _score(platform, [good[2]], capsys)
    assert alone[0]["risk_score"] == results[2]["risk_score"] and alone[0]["line"] == 1


def _typed(platform, line: str) -> pd.DataFrame:
    with duckdb.connect(str(platform["home"] / "warehouse.duckdb"), read_only=True) as con:
        agencies = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())
    typed, errors = validate(pd.DataFrame([raw_fields(line)]), agencies)
    assert errors.isna().all()
    return typed


def test_assess_entry_gives_the_app_everything_with_or_without_a_champion(platform):
    champion = load_champion(get_settings())
    agency, report, line = platform["lines"][0]
    typed = _typed(platform, line)
    with duckdb.connect(str(platform["home"] / "warehouse.duckdb"), read_only=True) as con:
        scored = assess_entry(con, champion, typed)
        unscored = assess_entry(con, None, typed)
        confirmed_new = assess_entry(con, champion, typed, person_key="Pnewchild")
        stored = con.execute("select risk_score from ml.intake_scores where agency_id = ? and report_id = ?",
                             [agency, report]).fetchall()[0][0]
    assert isinstance(scored, LiveAssessment) and len(scored.features) == 1
    assert abs(scored.risk_score - stored) < 0.005 and scored.match == "existing"
    assert scored.interval == champion.interval(scored.risk_score) and scored.interval[0] <= scored.risk_score
    assert scored.band in {"low", "medium", "high"} and scored.model_version == champion.version
    assert list(scored.what_ifs.columns) == ["item", "now", "value", "probability", "change"]
    assert set(scored.what_ifs["item"]) <= set(scored.missing)
    assert unscored.risk_score is None and unscored.interval is None and unscored.band is None
    assert unscored.reasons == [] and unscored.what_ifs.empty and unscored.model_version is None
    assert unscored.checklist_verdict == scored.checklist_verdict and unscored.missing == scored.missing
    assert confirmed_new.person_key == "Pnewchild" and confirmed_new.match == "new"
    assert confirmed_new.candidates == scored.candidates
    # A new child has no history: the features (and so, here, the score) are those of a first report.
    assert confirmed_new.features["prior_reports_total"].iloc[0] == 0


def test_what_ifs_leave_out_the_childs_own_account_below_three(platform):
    champion = load_champion(get_settings())
    typed = _typed(platform, platform["lines"][0][2])
    with duckdb.connect(str(platform["home"] / "warehouse.duckdb"), read_only=True) as con:
        features = assess_entry(con, champion, typed).features
    unknown = features.assign(**{item: "unknown" for item in CHILD_ACCOUNT_ITEMS})
    toddler = what_ifs(champion.model, unknown.assign(age_years=1.2))
    schoolchild = what_ifs(champion.model, unknown.assign(age_years=8.0))
    assert not set(CHILD_ACCOUNT_ITEMS) & set(toddler["item"])
    assert set(CHILD_ACCOUNT_ITEMS) <= set(schoolchild["item"])
    assert set(toddler["item"]) == set(schoolchild["item"]) - set(CHILD_ACCOUNT_ITEMS)


def test_the_interval_is_that_of_the_calibration_intakes_behind_the_probability():
    calibrated = np.sort(np.r_[np.full(200, 0.05), np.full(40, 0.3), np.full(5, 0.8)])
    assert neighbourhood(calibrated, 0.05) == 200          # an isotonic block
    assert neighbourhood(calibrated, 0.2) == 240           # interpolated: the blocks either side
    assert neighbourhood(calibrated, 0.8) == 45            # a small block widened to its neighbours
    wide, narrow = jeffreys_interval(0.3, 40), jeffreys_interval(0.3, 4000)
    assert wide[0] < narrow[0] < 0.3 < narrow[1] < wide[1]
    assert jeffreys_interval(0.0, 100)[0] == 0.0 and jeffreys_interval(1.0, 100)[1] == 1.0


def test_the_platt_interval_is_the_delta_method_on_the_fit_and_narrows_with_more_intakes():
    rng = np.random.default_rng(0)

    def fitted(n: int) -> ProbabilityCalibrator:
        scores = rng.random(n)
        return ProbabilityCalibrator("platt").fit(scores, (rng.random(n) < 0.6 * scores).astype(int))

    few, many = fitted(400), fitted(40000)
    p = float(many.predict(np.array([0.5]))[0])
    low, high = many.interval(p)
    assert low < p < high and high - low < 0.02
    few_low, few_high = few.interval(p)
    assert few_high - few_low > 3 * (high - low)


def test_a_loaded_champion_keeps_its_interval(platform):
    champion = load_champion(get_settings())
    low, high = champion.interval(0.2)
    assert 0 <= low < 0.2 < high <= 1


def test_the_app_follows_the_champion_alias_without_a_restart(monkeypatch, tmp_path):
    """The app keeps one loaded model per version: when a run (or an override) moves the alias, the next page
    scores with the new champion; while it stays, nothing is loaded again."""
    from app import services
    from kodomo.settings import get_settings

    monkeypatch.setenv("KODOMO_HOME", str(tmp_path))
    aliases = iter(["1", "1", "2", None])
    loaded = []
    monkeypatch.setattr(services, "champion_version", lambda settings: next(aliases))
    monkeypatch.setattr(services, "load_champion",
                        lambda settings, version: loaded.append(version) or f"model {version}")
    services._champion.clear()
    settings = get_settings()
    assert [services.champion(settings) for _ in range(4)] == ["model 1", "model 1", "model 2", None]
    assert loaded == ["1", "2"]
    services._champion.clear()
