"""The model's life in the platform, step by step: label, train and register, promote, score.

Features are read from the dbt marts ``marts.intake_features[_within_agency]``; labels go to ``ml.labels``."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kodomo.settings import Settings
from ml.features import read_features
from ml.labels import build_labels, data_end
from ml.pipeline import TrainingReport, train_and_evaluate
from ml.promotion import Decision, GateLimits, evaluate_gates, labelled_test_slice
from ml.registry import (CHALLENGER, CHAMPION, DECISION_TAG, RegisteredRun, connect, load_baseline, load_version,
                         log_training_run, record_decision, version_by_alias)
from ml.scoring import open_intakes, score_intakes, write_scores
from ml.store import LABELS, read_table, write_table


def build_label_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    labels = build_labels(con)
    write_table(con, LABELS, labels)
    return labels


def train_and_register(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[TrainingReport, RegisteredRun]:
    """Train on the warehouse's labels and feature marts; log the run and register a challenger."""
    report = train_and_evaluate(read_features(con), read_table(con, LABELS), read_features(con, within_agency=True),
                                data_end(con))
    return report, log_training_run(report, settings)


def promote_challenger(con: duckdb.DuckDBPyConnection, settings: Settings,
                       limits: GateLimits = GateLimits()) -> Decision | None:
    """Judge the challenger against the champion on the challenger's test slice; log and apply the decision.

    None when there is nothing new to judge (no challenger, or it was judged already).
    """
    client = connect(settings)
    challenger = version_by_alias(client, CHALLENGER)
    if challenger is None or DECISION_TAG in challenger.tags:
        return None
    champion = version_by_alias(client, CHAMPION)
    test_from = pd.Timestamp(client.get_run(challenger.run_id).data.params["test_from"])
    test = labelled_test_slice(read_features(con), read_table(con, LABELS), test_from)
    decision = evaluate_gates(load_version(client, challenger), test,
                              champion=None if champion is None else load_version(client, champion),
                              baseline=load_baseline(client, challenger), limits=limits)
    decision.champion_version = None if champion is None else str(champion.version)
    record_decision(client, challenger, decision)
    return decision


def score_open_intakes(con: duckdb.DuckDBPyConnection, settings: Settings,
                       scored_at: dt.datetime | None = None) -> tuple[str | None, int]:
    """Score every open intake with the champion into ``ml.intake_scores``; (champion version, rows)."""
    client = connect(settings)
    champion = version_by_alias(client, CHAMPION)
    features = open_intakes(read_features(con), data_end(con))
    if champion is None:
        # No champion yet: an empty table, never an unvetted model's scores.
        scores = pd.DataFrame({"agency_id": [], "report_id": [], "person_key": [], "risk_score": [],
                               "top_reasons": []})
    else:
        scores = score_intakes(load_version(client, champion), features)
    version = None if champion is None else str(champion.version)
    write_scores(con, scores, version or "", scored_at or dt.datetime.now())
    return version, len(scores)
