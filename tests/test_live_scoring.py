"""``kodomo score`` (ml/live_scoring.py) on a real platform: a generated `small` world built, trained, promoted
and scored by the platform's own code; its scored intakes replayed as new input lines must score as the batch
did and find their child, and a bad line is an error line that leaves the others scored."""
from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from kodomo.cli import main
from ml.live_scoring import intake_lines

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
