"""The risk model's parts on hand-made warehouses: labels (spec §7), point-in-time features, the checklist
rule, grouped CV, calibration, explanations, subgroups and the promotion gate."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from kodomo.contracts import FEEDS, LINEAGE_COLUMNS, contract
from kodomo.dbt_sources import DBT_PROJECT_DIR
from kodomo.ingest.staging import duckdb_type
from kodomo.ingest.store import latest_per_key
from kodomo.tables import replace_table
from ml.calibrate import ProbabilityCalibrator
from ml.checklist import (EMERGENCY_PROTECTION, INTENSIVE_SUPPORT, NO_CONCERN, PROTECTION_BEFORE_NEXT_INCIDENT,
                          answer_questions, checklist_score)
from ml.evaluate import auc, average_precision, bootstrap_indices, expected_calibration_error
from ml.explain import top_reasons
from ml.fairness import INSUFFICIENT, gap_violations, subgroup_table
from ml.features import (HISTORY_FEATURES, assessment_items, design_matrix, feature_groups, feature_names,
                         read_features)
from ml.labels import build_labels
from ml.margin import HistoryMargin, fit_history_margin
from ml.model import BaselineModel, RiskModel
from ml.promotion import GateLimits, decide, evaluate_gates
from ml.train import grouped_folds, log_odds

META = {c.name: c.duckdb_type for c in LINEAGE_COLUMNS}
DATA_END = "2025-04-25"


def _defaults(feed: str) -> dict:
    person = {"local_child_id": "A1", "child_name": "髙橋 太郎", "child_kana": "タカハシ タロウ", "sex": "1",
              "birth_date": "2015-06-01"}
    items = {c.name: "no" for c in assessment_items()} | {"injury_severity": "none", "child_disclosure": "none"}
    return {
        "case_reports": person | {"report_id": "R1", "address_municipality_code": "111007", "route": "police",
                                  "abuse_types": "physical", "substantiated": "undetermined",
                                  "temporary_protection": "no", "severe_harm": "no"},
        "assessments": items | {"assessment_id": "S1", "report_id": "R1", "assessor_id": "W1",
                                "worker_decision": "undecided"},
        "checkups": person | {"checkup_type": "m18", "status": "scheduled"},
        "immunizations": person | {"vaccine": "mr", "dose": 1},
        "resident_moves": person | {"move_id": "M1", "move_type": "move_in", "from_municipality_code": "131016",
                                    "to_municipality_code": "111007"},
        "alerts": person | {"alert_id": "L1", "alert_type": "missing"},
    }[feed]


ID_COLUMNS = ("local_child_id", "report_id", "assessment_id", "move_id", "alert_id")
DBT = str(Path(sys.executable).with_name("dbt"))


def run_dbt(warehouse: Path) -> None:
    """The models and the seed the risk model reads (intake feature marts, report versions, data extent), as the
    pipeline's dbt build makes them; the dbt tests run in tests/test_dbt.py."""
    result = subprocess.run(
        [DBT, "build", "--quiet", "--resource-type", "model", "--resource-type", "seed",
         "--select", "+intake_features", "+intake_features_within_agency", "+int_data_extent",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, "DBT_DUCKDB_PATH": str(warehouse)}, capture_output=True, text=True, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


class MiniWarehouse:
    """``valid.<feed>_versions`` / ``valid.<feed>`` and ``linkage.person_links`` typed as the pipeline writes them,
    built into a warehouse file and through dbt."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {feed: [] for feed in FEEDS}
        self.links: list[tuple[str, str, str]] = []

    def add(self, feed: str, updated_at: str, delivered: str = DATA_END, **values) -> MiniWarehouse:
        row = {"agency_id": "111007", "updated_at": updated_at} | _defaults(feed) | values
        self.rows[feed].append(row | {"_file": f"f{len(self.rows[feed])}", "_line": 2,
                                      "_delivery_date": delivered, "_seq": 1})
        return self

    def link(self, agency_id: str, local_child_id: str, person_key: str) -> MiniWarehouse:
        self.links.append((agency_id, local_child_id, person_key))
        return self

    @classmethod
    def merged(cls, worlds: dict[str, MiniWarehouse]) -> MiniWarehouse:
        """One warehouse holding several worlds side by side: each world's IDs and person keys are prefixed
        ``<name>-``, so its children never meet another world's (one dbt build serves many tests)."""
        merged = cls()
        for name, world in worlds.items():
            for feed, rows in world.rows.items():
                merged.rows[feed] += [r | {c: f"{name}-{r[c]}" for c in ID_COLUMNS if r.get(c) is not None}
                                      for r in rows]
            merged.links += [(a, f"{name}-{c}", f"{name}-{p}") for a, c, p in world.links]
        return merged

    def build(self, directory: Path) -> duckdb.DuckDBPyConnection:
        """Write ``directory/warehouse.duckdb``, run dbt on it, and open it."""
        path = directory / "warehouse.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute("create schema valid; create schema linkage")
            con.execute("create table valid.agencies (agency_id varchar, agency_type varchar, name varchar, "
                        "prefecture_code varchar, cgc_id varchar, _file varchar, _line integer, "
                        "_delivery_date date, _seq integer)")
            con.execute("insert into valid.agencies values "
                        "('111007', 'municipality', 'さいたま市', '11', 'C1101', 'a', 2, null, 1), "
                        "('131016', 'municipality', '千代田区', '13', 'C1301', 'a', 3, null, 1), "
                        "('C1101', 'cgc', '中央', '11', null, 'a', 4, null, 1)")
            for feed in FEEDS[1:]:
                c = contract(feed)
                columns = {col.name: duckdb_type(col.type) for col in c.columns} | META
                frame = pd.DataFrame(self.rows[feed], columns=list(columns)).astype(object)
                select = ", ".join(f'cast("{n}" as {t}) as "{n}"' for n, t in columns.items())
                replace_table(con, f"valid.{feed}_versions", frame, select)
                con.execute(f"create table valid.{feed} as "
                            f"{latest_per_key(c, f'valid.{feed}_versions', has_arrival=False)}")
            links = pd.DataFrame(self.links, columns=["agency_id", "local_child_id", "person_key"])
            replace_table(con, "linkage.person_links", links)
        run_dbt(path)
        return duckdb.connect(str(path))


def report(w: MiniWarehouse, report_id: str, received: str, agency_id: str = "111007", child: str = "A1",
           updated: str | None = None, **values) -> MiniWarehouse:
    return w.add("case_reports", updated or received, agency_id=agency_id, local_child_id=child, report_id=report_id,
                 received_at=received, **values)


def in_world(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one world of a merged warehouse, with its own report IDs."""
    prefix = f"{name}-"
    mine = frame[frame["report_id"].str.startswith(prefix)]
    return mine.assign(report_id=mine["report_id"].str.removeprefix(prefix)).reset_index(drop=True)


def outcomes(labels: pd.DataFrame, name: str) -> dict[str, int]:
    labels = in_world(labels, name)
    return dict(zip(labels["report_id"], labels["outcome"], strict=True))


# --- the worlds of the label and feature tests, built once ------------------------------------------

def _day_365_world() -> MiniWarehouse:
    w = MiniWarehouse().link("111007", "A1", "P1").link("111007", "B1", "P2")
    report(w, "R1", "2021-04-01 10:00")
    report(w, "R2", "2022-04-01 23:00", substantiated="yes")  # day 365, later in the day than R1
    report(w, "R3", "2021-05-01 10:00", child="B1")
    report(w, "R4", "2022-05-02 09:00", child="B1", substantiated="yes")  # day 366, earlier in the day
    return w


def _moved_world() -> MiniWarehouse:
    w = MiniWarehouse().link("111007", "A1", "P1").link("131016", "T9", "P1")
    report(w, "R1", "2021-04-01 10:00")
    w.add("resident_moves", "2021-06-01 09:00", agency_id="131016", local_child_id="T9", move_date="2021-05-20")
    report(w, "X7", "2021-09-01 10:00", agency_id="131016", child="T9", substantiated="yes")
    return w


def _severe_harm_world() -> MiniWarehouse:
    w = MiniWarehouse().link("111007", "A1", "P1").link("111007", "B1", "P2")
    report(w, "R1", "2021-04-01 10:00")
    report(w, "R2", "2021-08-01 10:00", substantiated="no", severe_harm="yes")
    report(w, "R3", "2021-04-01 10:00", child="B1", substantiated="yes", severe_harm="yes")
    return w


def _versions_world() -> MiniWarehouse:
    w = MiniWarehouse().link("111007", "A1", "P1")
    report(w, "R1", "2021-04-01 10:00")
    report(w, "R2", "2021-06-01 10:00", updated="2021-06-01 10:00")
    report(w, "R2", "2021-06-01 10:00", updated="2021-08-01 10:00", substantiated="yes")
    report(w, "R9", "2024-04-25 10:00")  # day 365 is the data's end: not closed
    return w


def _history_world() -> MiniWarehouse:
    w = MiniWarehouse().link("111007", "A1", "P1").link("131016", "T9", "P1")
    report(w, "R0", "2020-01-10 10:00", updated="2020-01-10 10:00")
    report(w, "R0", "2020-01-10 10:00", updated="2020-03-01 10:00", substantiated="yes",
           temporary_protection="yes", temporary_protection_at="2020-01-11 09:00")
    report(w, "Q1", "2020-09-01 10:00", agency_id="131016", child="T9")
    w.add("resident_moves", "2020-08-05 09:00", agency_id="131016", local_child_id="T9", move_date="2020-08-01")
    w.add("resident_moves", "2020-08-03 09:00", local_child_id="A1", move_id="M0", move_type="move_out",
          move_date="2020-08-01")  # the same move, seen from the origin
    w.add("checkups", "2019-02-10 09:00", local_child_id="A1", checkup_type="y3", scheduled_date="2019-02-01",
          status="no_show")
    w.add("alerts", "2020-10-01 09:00", agency_id="131016", local_child_id="T9", alert_type="missing",
          issued_at="2020-10-01 09:00")
    w.add("immunizations", "2019-05-01 09:00", local_child_id="A1", birth_date="2018-06-01", vaccine="hepb",
          dose=1, administered_date="2019-05-01")
    report(w, "R1", "2021-04-01 10:00")
    w.add("assessments", "2021-04-01 15:00", assessed_at="2021-04-01 14:00", report_id="R1",
          injury_severity="moderate", child_disclosure="unknown")
    return w


FUTURES = [
    lambda w: report(w, "R0", "2020-01-10 10:00", updated="2021-04-01 10:01", severe_harm="yes"),  # a later version
    lambda w: report(w, "R5", "2021-04-01 10:30", substantiated="yes", severe_harm="yes"),  # a later report
    lambda w: report(w, "R6", "2021-03-01 10:00", updated="2021-04-02 09:00"),  # an earlier report entered later
    lambda w: w.add("resident_moves", "2021-04-05 09:00", move_id="M9", move_date="2021-03-30"),  # entered later
    lambda w: w.add("checkups", "2021-05-01 09:00", checkup_type="m18", scheduled_date="2021-04-20", status="no_show"),
    lambda w: w.add("checkups", "2021-04-03 09:00", local_child_id="A1", checkup_type="y3",
                    scheduled_date="2019-02-01", status="attended", exam_date="2021-04-02"),  # made up later
    lambda w: w.add("alerts", "2021-04-02 09:00", agency_id="131016", local_child_id="T9", alert_id="L2",
                    alert_type="found", issued_at="2021-04-02 09:00"),
    lambda w: w.add("immunizations", "2021-04-10 09:00", vaccine="mr", dose=2, administered_date="2021-04-09"),
    # Another child's dose, entered later but given before the records known at receipt begin.
    lambda w: w.add("immunizations", "2021-05-01 09:00", local_child_id="B7", vaccine="bcg", dose=1,
                    administered_date="2016-01-10"),
    lambda w: w.add("assessments", "2021-05-01 09:00", assessed_at="2021-04-01 14:00", report_id="R1",
                    injury_severity="severe", child_disclosure="serious"),  # a revision of the assessment
]


def _with(world: MiniWarehouse, change) -> MiniWarehouse:
    change(world)
    return world


def _known_before_world() -> MiniWarehouse:
    w = _history_world()
    w.add("checkups", "2021-03-01 09:00", local_child_id="A1", checkup_type="y3", scheduled_date="2019-02-01",
          status="attended", exam_date="2021-02-25")
    w.add("alerts", "2021-03-02 09:00", agency_id="131016", local_child_id="T9", alert_id="L2", alert_type="found",
          issued_at="2021-03-02 09:00")
    return w


def _design_world() -> MiniWarehouse:
    w = _history_world()
    report(w, "R2", "2021-05-01 10:00", child="Z1")
    return w.link("111007", "Z1", "P9")


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> dict:
    """Every world of the label and feature tests in one warehouse: its labels and both feature marts."""
    worlds = {"day365": _day_365_world(), "moved": _moved_world(), "harm": _severe_harm_world(),
              "versions": _versions_world(), "history": _history_world(), "known": _known_before_world(),
              "design": _design_world(),
              **{f"future{i}": _with(_history_world(), change) for i, change in enumerate(FUTURES)}}
    con = MiniWarehouse.merged(worlds).build(tmp_path_factory.mktemp("mini"))
    yield {"con": con, "labels": build_labels(con), "linked": read_features(con),
           "agency": read_features(con, within_agency=True)}
    con.close()


# --- labels ----------------------------------------------------------------------------------------

def test_a_substantiated_re_report_on_day_365_counts_and_on_day_366_does_not(mini):
    labels = outcomes(mini["labels"], "day365")
    assert labels["R1"] == 1
    assert labels["R3"] == 0


def test_a_re_report_in_another_agency_after_a_move_counts_through_the_link(mini):
    assert outcomes(mini["labels"], "moved")["R1"] == 1


def test_severe_harm_counts_without_substantiation_and_the_intake_itself_never_does(mini):
    labels = outcomes(mini["labels"], "harm")
    assert labels["R1"] == 1
    assert labels["R3"] == 0


def test_only_closed_windows_are_labelled_and_later_versions_decide(mini):
    labels = outcomes(mini["labels"], "versions")
    assert labels["R1"] == 1 and "R9" not in labels
    # A backtest knowing only what was recorded before July 2021 sees R2 still undetermined.
    early = build_labels(mini["con"], close_before=dt.date(2022, 6, 1), known_before=dt.datetime(2021, 7, 1))
    assert outcomes(early, "versions") == {"R1": 0}
    # Known from the moment the substantiating version was recorded, not before.
    recorded = build_labels(mini["con"], close_before=dt.date(2022, 6, 1), known_before=dt.datetime(2021, 8, 1, 10, 1))
    assert outcomes(recorded, "versions") == {"R1": 1}
    on_the_minute = build_labels(mini["con"], close_before=dt.date(2022, 6, 1), known_before=dt.datetime(2021, 8, 1, 10))
    assert outcomes(on_the_minute, "versions") == {"R1": 0}


# --- features --------------------------------------------------------------------------------------

def _features_of(mini: dict, world: str, report_id: str = "R1", scope: str = "linked") -> pd.Series:
    return in_world(mini[scope], world).set_index("report_id").loc[report_id]


def test_linked_history_counts_what_was_known_at_receipt_across_agencies(mini):
    f = _features_of(mini, "history")
    assert f[["prior_reports_1y", "prior_reports_2y", "prior_reports_total", "prior_agencies_2y"]].tolist() == [1, 2, 2, 2]
    assert f["prior_substantiated"] == 1 and f["prior_protections"] == 1
    assert f["moves_2y"] == 1  # move_out and move_in of one move count once
    assert f["missed_checkups"] == 1 and f["open_alerts"] == 1
    assert f["injury_severity"] == "moderate" and f["child_disclosure"] == "unknown" and f["has_assessment"] == 1
    assert f["age_years"] == pytest.approx(5.83, abs=0.01)
    assert f["person_key"] == "history-P1" and f["agency_type"] == "municipality" and f["prefecture_code"] == "11"


def test_within_agency_history_sees_only_the_intakes_own_agency(mini):
    f = _features_of(mini, "history", scope="agency")
    assert f["prior_reports_2y"] == 1 and f["moves_2y"] == 1 and f["open_alerts"] == 0
    assert f["person_key"] == "111007/history-A1"


@pytest.mark.parametrize("future", range(len(FUTURES)))
def test_nothing_dated_after_receipt_changes_the_features(mini, future):
    before = _features_of(mini, "history").drop("person_key")
    after = _features_of(mini, f"future{future}").drop("person_key")
    pd.testing.assert_series_equal(before, after, check_names=False)


def test_the_same_events_known_before_receipt_do_change_the_features(mini):
    # The invariance test above is only meaningful if the features can see such events at all.
    f = _features_of(mini, "known")
    assert f["missed_checkups"] == 0 and f["open_alerts"] == 0


def test_design_matrix_keeps_unknown_as_its_own_value_and_a_missing_assessment_as_zeros(mini):
    features = in_world(mini["linked"], "design")
    X = design_matrix(features).set_axis(features["report_id"])
    assert list(X.columns) == feature_names()
    for column in X.columns:  # every column holds what its name says
        source, _, code = column.partition("=")
        expected = (features[source] == code).astype(float) if code else features[source].astype(float)
        assert X[column].tolist() == expected.tolist(), column
    assert X.loc["R1", "child_disclosure=unknown"] == 1 and X.loc["R1", "child_disclosure=none"] == 0
    assert X.loc["R2", [c for c in X.columns if c.startswith("injury_severity=")]].sum() == 0
    assert X.loc["R2", "has_assessment"] == 0
    assert {feature_groups()[c] for c in X.columns} >= {c.name for c in assessment_items()} | set(HISTORY_FEATURES)


# --- checklist -------------------------------------------------------------------------------------

def _intake(**values) -> pd.DataFrame:
    items = {c.name: "no" for c in assessment_items()} | {"injury_severity": "none", "child_disclosure": "none"}
    return pd.DataFrame([items | {"age_years": 8.0, "prior_reports_2y": 0, "prior_protections": 0} | values])


@pytest.mark.parametrize(("values", "question"), [
    ({"child_wants_protection": "yes"}, "q1"), ({"caregiver_requests_help": "yes"}, "q1"),
    ({"sexual_abuse_suspected": "yes"}, "q2"), ({"caregiver_threatens_harm": "yes"}, "q2"),
    ({"injury_severity": "severe"}, "q3"),
    ({"injury_head_face_abdomen": "yes"}, "q4"), ({"child_disclosure": "serious"}, "q4"),
    ({"injury_present": "yes", "age_years": 1.5}, "q4"), ({"injury_present": "yes", "child_disability": "yes"}, "q4"),
    ({"injury_old_and_new": "yes"}, "q5"), ({"caregiver_explanation_inconsistent": "yes"}, "q5"),
    ({"prior_reports_2y": 1}, "q5"), ({"prior_protections": 1}, "q5"),
    ({"child_disclosure": "mild"}, "q6"), ({"growth_concern": "yes"}, "q6"),
    ({"caregiver_substance_abuse": "yes"}, "q7"), ({"caregiver_mental_illness": "yes"}, "q7"),
    ({"domestic_violence": "yes"}, "q8"), ({"economic_hardship": "yes"}, "q8"), ({"single_parent": "yes"}, "q8"),
])
def test_each_item_answers_its_question_of_the_sheet_and_no_other_answers_a_blank_sheet(values, question):
    answered = answer_questions(_intake(**values)).iloc[0]
    assert answered[question]
    assert not answer_questions(_intake()).iloc[0].any()


def test_unknown_and_an_uninjured_infant_answer_nothing():
    unknowns = {c.name: "unknown" for c in assessment_items()}
    assert not answer_questions(_intake(**unknowns)).iloc[0].any()
    assert not answer_questions(_intake(age_years=1.0)).iloc[0]["q4"]


@pytest.mark.parametrize(("values", "verdict"), [
    ({"child_wants_protection": "yes", "caregiver_threatens_harm": "yes"}, EMERGENCY_PROTECTION),  # 1 and 2
    ({"injury_severity": "severe"}, EMERGENCY_PROTECTION),  # 3
    ({"child_wants_protection": "yes"}, INTENSIVE_SUPPORT),  # 1 alone is not enough
    ({"caregiver_threatens_harm": "yes"}, INTENSIVE_SUPPORT),  # 2 alone neither
    ({"injury_head_face_abdomen": "yes"}, PROTECTION_BEFORE_NEXT_INCIDENT),  # 4
    ({"prior_protections": 2}, PROTECTION_BEFORE_NEXT_INCIDENT),  # 5
    ({"domestic_violence": "yes"}, INTENSIVE_SUPPORT),
    ({}, NO_CONCERN),
])
def test_the_sheets_rule_orders_its_verdicts(values, verdict):
    assert checklist_score(_intake(**values)).iloc[0] == verdict


# --- metrics, folds, calibration, explanations -------------------------------------------------------

def test_metrics_agree_with_their_definitions():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 500), np.round(rng.random(500), 2)  # rounded: ties included
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s))
    p = np.array([0.05, 0.05, 0.95, 0.95])
    assert expected_calibration_error(np.array([0, 0, 1, 1]), p) == pytest.approx(0.05)
    assert expected_calibration_error(np.array([1, 1, 0, 0]), p) == pytest.approx(0.95)


def test_grouped_folds_and_bootstrap_keep_each_child_together():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 60, 400).astype(str)
    y = rng.integers(0, 2, 400)
    for train, held_out in grouped_folds(y, groups):
        assert not set(groups[train]) & set(groups[held_out])
    for rows in bootstrap_indices(groups, samples=5):
        drawn = pd.Series(groups[rows]).value_counts()
        sizes = pd.Series(groups).value_counts()
        assert all(drawn[g] % sizes[g] == 0 for g in drawn.index)  # whole children, possibly several times


def _toy_model(seed: int = 0, noise: float = 0.0) -> tuple[RiskModel, pd.DataFrame]:
    """A real booster on the real design columns: outcome driven by injury severity and prior protections."""
    rng = np.random.default_rng(seed)
    n = 3000
    items = {c.name: rng.choice(c.codes, n) for c in assessment_items()}
    frame = pd.DataFrame(items | {
        "age_years": rng.uniform(0, 17, n), "has_assessment": 1, "route": rng.choice(["police", "school"], n),
        **{f"abuse_{t}": rng.integers(0, 2, n) for t in ("physical", "neglect", "sexual", "psychological")},
        **{h: rng.poisson(0.3, n) for h in HISTORY_FEATURES},
        "person_key": np.arange(n).astype(str), "agency_type": rng.choice(["municipality", "cgc"], n),
        "prefecture_code": "11", "received_at": pd.Timestamp("2023-01-01"),
    })
    logit = -2 + 2.0 * (frame["injury_severity"] == "severe") + 1.0 * frame["prior_protections"]
    frame["outcome"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = design_matrix(frame)
    signal = X.copy()
    signal[:] = signal.to_numpy() + noise * rng.normal(size=signal.shape)
    margin = fit_history_margin(signal, frame["outcome"])
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "seed": seed, "num_threads": 1},
                        lgb.Dataset(signal, frame["outcome"], init_score=margin.logit(signal)), 60)
    model = RiskModel(booster, margin, ProbabilityCalibrator("isotonic"), 0.3)
    model.calibrator.fit(model.raw_score(X), frame["outcome"])
    return model, frame


def test_reasons_name_the_item_and_its_value_and_add_up_with_the_bias():
    model, frame = _toy_model()
    severe = frame[(frame["injury_severity"] == "severe") & (frame["prior_protections"] == 0)].head(20)
    from ml.features import feature_values

    probability, reasons = model.explain(design_matrix(severe), feature_values(severe))
    assert np.allclose(probability, model.predict_proba(design_matrix(severe))[:, 1])
    assert all(r[0] == {"feature": "injury_severity", "value": "severe", "contribution": r[0]["contribution"]}
               for r in reasons)
    assert all(r["contribution"] > 0 for rs in reasons for r in rs)


def test_shap_values_of_margin_and_trees_add_up_to_the_models_log_odds():
    model, frame = _toy_model()
    X = design_matrix(frame.head(200))
    contrib = model.contributions(X)
    np.testing.assert_allclose(contrib.sum(axis=1), log_odds(model.booster, model.margin, X), atol=1e-9)
    # A count's value is shared between the margin and the trees: both parts are in its column.
    trees_only = model.booster.predict(X.to_numpy(), pred_contrib=True)[:, list(X.columns).index("prior_protections")]
    assert not np.allclose(contrib["prior_protections"], trees_only)


def test_the_margin_keeps_raising_the_risk_beyond_the_longest_history_seen_in_training():
    # Trained on histories of 0-2 prior reports, where risk rises with log(1 + count); scored on 6.
    rng = np.random.default_rng(7)
    n = 4000
    counts = pd.DataFrame({h: rng.integers(0, 3, n) for h in HISTORY_FEATURES})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 1.5 * np.log1p(counts["prior_reports_total"]))))).astype(int)
    margin = fit_history_margin(counts, y)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4, "num_threads": 1},
                        lgb.Dataset(counts, y, init_score=margin.logit(counts)), 30)
    longer = pd.concat([counts.head(1)] * 3, ignore_index=True).assign(prior_reports_total=[2, 4, 6])
    z = log_odds(booster, margin, longer)
    assert z[0] < z[1] < z[2]
    trees_alone = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4, "num_threads": 1},
                            lgb.Dataset(counts, y), 30).predict(longer.to_numpy(), raw_score=True)
    assert trees_alone[1] == trees_alone[2]  # flat beyond the last split


def test_the_margin_survives_its_json_round_trip():
    model, _ = _toy_model()
    assert HistoryMargin.from_dict(json.loads(json.dumps(model.margin.as_dict()))) == model.margin


def test_top_reasons_keep_only_positive_contributions_in_order():
    grouped = pd.DataFrame({"a": [0.5, -0.1], "b": [0.9, -0.2], "c": [-0.3, 0.0]})
    values = pd.DataFrame({"a": ["yes", "no"], "b": [2, 0], "c": ["unknown", "no"]})
    assert top_reasons(grouped, values) == [
        [{"feature": "b", "value": 2, "contribution": 0.9}, {"feature": "a", "value": "yes", "contribution": 0.5}], []]


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_corrects_an_overconfident_score(method):
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.02, 0.6, 20000)
    y = (rng.random(20000) < truth).astype(int)
    overconfident = 1 / (1 + np.exp(-2.5 * np.log(truth / (1 - truth)) - 1.0))
    calibrated = ProbabilityCalibrator(method).fit(overconfident[:10000], y[:10000]).predict(overconfident[10000:])
    assert expected_calibration_error(y[10000:], overconfident[10000:]) > 0.1
    assert expected_calibration_error(y[10000:], calibrated) < 0.02
    if method == "platt":  # a monotone map of the logit: the ranking, hence the AUC, is untouched
        assert auc(y[10000:], calibrated) == pytest.approx(auc(y[10000:], overconfident[10000:]))


# --- subgroups and the promotion gate --------------------------------------------------------------

def test_small_subgroups_are_reported_insufficient_not_computed():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = rng.random(300)
    groups = pd.DataFrame({"prefecture": ["11"] * 292 + ["13"] * 8})
    table = subgroup_table(y, p, 0.5, groups).set_index("group")
    assert table.loc["13", "status"] == INSUFFICIENT and np.isnan(table.loc["13", "auc"])
    assert table.loc["11", "status"] == "ok" and 0 <= table.loc["11", "fpr"] <= 1


def _gaps_world(seed: int = 4):
    """4,000 intakes: hardship "yes" (1,000) has a true risk that barely varies, a gap that is in the data;
    prefecture "13" (1,000 of hardship "no") is as predictable as the rest."""
    rng = np.random.default_rng(seed)
    hardship = np.where(np.arange(4000) < 3000, "no", "yes")
    prefecture = np.where(np.arange(4000) < 1000, "13", "11")
    truth = np.where(hardship == "yes", rng.uniform(0.2, 0.3, 4000), rng.beta(1, 3, 4000))
    y = (rng.random(4000) < truth).astype(int)
    return y, truth, pd.DataFrame({"economic_hardship": hardship, "prefecture": prefecture}), rng


def test_a_gap_in_the_data_passes_and_a_gap_the_model_widens_or_miscalibrates_does_not():
    y, truth, groups, rng = _gaps_world()
    reference = subgroup_table(y, truth, 0.4, groups)
    raw = reference.set_index("group")
    assert raw.loc["yes", "auc"] < raw.loc["all", "auc"] - 0.15  # a raw gap far beyond 0.10 …
    assert gap_violations(subgroup_table(y, truth, 0.4, groups), reference) == []  # … that the reference shares
    blind = truth.copy()
    blind[:1000] = rng.uniform(0, 0.5, 1000)  # the model lost its signal for prefecture 13
    widened = gap_violations(subgroup_table(y, blind, 0.4, groups), reference)
    assert any(v.startswith("prefecture=13: AUC gap") for v in widened), widened
    shifted = np.where(groups["economic_hardship"] == "yes", truth + 0.2, truth)
    expected = f"economic_hardship=yes: ECE {expected_calibration_error(y[3000:], shifted[3000:]):.3f} exceeds 0.1"
    assert expected in gap_violations(subgroup_table(y, shifted, 0.4, groups), reference)


def test_gate_promotes_a_model_no_worse_than_the_champion_and_calibrated():
    decision = decide(challenger_auc=0.74, challenger_ece=0.03, champion_auc=0.73, fairness_problems=[])
    assert decision.promote and decision.reasons


@pytest.mark.parametrize(("auc_", "ece", "champion", "problems", "why"), [
    (0.72, 0.03, 0.73, [], "worse than the champion"),
    (0.75, 0.06, 0.73, [], "ECE"),
    (0.75, 0.03, None, ["prefecture=13: AUC 0.5 …"], "subgroup gap"),
])
def test_gate_rejects_a_worse_uncalibrated_or_unfair_challenger(auc_, ece, champion, problems, why):
    decision = decide(auc_, ece, champion, problems)
    assert not decision.promote
    assert any(why in r for r in decision.reasons)


def test_gate_judges_real_models_on_the_same_slice_both_ways():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    strong, frame = _toy_model(seed=5)
    weak, _ = _toy_model(seed=6, noise=3.0)
    X = design_matrix(frame)
    baseline = BaselineModel(make_pipeline(LogisticRegression(max_iter=500)).fit(X.to_numpy(), frame["outcome"]),
                             list(X.columns))
    assert evaluate_gates(strong, frame, baseline, champion=weak).promote
    demoted = evaluate_gates(weak, frame, baseline, champion=strong)
    assert not demoted.promote and demoted.champion_auc > demoted.challenger_auc
    first = evaluate_gates(strong, frame, baseline)
    assert first.promote and first.champion_auc is None
    assert not evaluate_gates(strong, frame, baseline, limits=GateLimits(max_ece=0.0)).promote


# --- wiring ----------------------------------------------------------------------------------------

def test_ml_assets_read_the_dbt_marts_and_run_in_order():
    import dagster as dg

    from orchestration.defs.ml import ml_assets

    deps = {key: set(a.asset_deps[key]) for a in ml_assets for key in a.keys}
    assert dg.AssetKey(["intermediate", "int_case_report_versions_linked"]) in deps[dg.AssetKey(["ml", "labels"])]
    marts = {dg.AssetKey(["marts", "intake_features"]), dg.AssetKey(["marts", "intake_features_within_agency"])}
    assert marts | {dg.AssetKey(["ml", "labels"])} <= deps[dg.AssetKey(["ml", "child_risk_model"])]
    assert dg.AssetKey(["ml", "child_risk_model"]) in deps[dg.AssetKey(["ml", "promotion"])]
    assert {dg.AssetKey(["ml", "promotion"]), dg.AssetKey(["marts", "intake_features"])} <= deps[
        dg.AssetKey(["ml", "intake_scores"])]
    assert not any(key.path[0] == "ml" and "features" in key.path[-1] for key in deps)  # the marts are the features


def test_the_ml_assets_run_on_a_landing_too_small_to_learn_from(tmp_path):
    import dagster as dg

    from orchestration.defs.ml import ml_assets
    from orchestration.defs.resources import KodomoHome, Warehouse

    _history_world().build(tmp_path).close()
    path = tmp_path / "warehouse.duckdb"
    result = dg.materialize(ml_assets, resources={"warehouse": Warehouse(path=str(path), memory_limit="1GB"),
                                                  "home": KodomoHome(path=str(tmp_path), build=str(tmp_path))})
    assert result.success
    model = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                 if e.asset_key == dg.AssetKey(["ml", "child_risk_model"]))
    assert model["trained"].value is False and "labelled intakes" in model["reason"].value
    with duckdb.connect(str(path)) as con:
        assert con.execute("select count(*) from ml.intake_scores").fetchall()[0][0] == 0  # no champion, no scores
        assert con.execute("select count(*) from ml.labels").fetchall()[0][0] == 3


def test_mlflow_tracks_under_kodomo_home_locally_and_in_postgres_in_production(tmp_path):
    from kodomo.settings import Settings
    from ml.registry import artifact_location, tracking_uri

    local = Settings(home=tmp_path, env="local", postgres_url="postgresql://u@db:5432/kodomo")
    assert tracking_uri(local) == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert artifact_location(local) == (tmp_path / "mlflow" / "artifacts").as_uri()
    production = Settings(home=tmp_path, env="production", postgres_url="postgresql://u@db:5432/kodomo")
    # its own schema: MLflow keeps its own alembic_version beside the operational store's and Dagster's
    assert tracking_uri(production) == "postgresql+psycopg://u@db:5432/kodomo?options=-csearch_path%3Dmlflow"
