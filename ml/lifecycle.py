"""The model's life in the platform, step by step: label, train and register, promote, score; and a data
scientist's override of the promotion gate.

Features are read from the dbt marts ``marts.intake_features[_within_agency]``; labels go to ``ml.labels``."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
from mlflow.exceptions import MlflowException
from sqlalchemy import Engine

from kodomo.appdata.access import require_role
from kodomo.appdata.accounts import Account
from kodomo.memory import cache_released
from kodomo.operational import DATA_SCIENTIST, AccessEntry, audited
from kodomo.settings import Settings
from ml.drift import DRIFT_COLUMNS, drift_report
from ml.features import read_features
from ml.labels import build_labels, data_end
from ml.pipeline import TrainingReport, train_and_evaluate
from ml.promotion import Decision, GateLimits, evaluate_gates, labelled_test_slice
from ml.registry import (CHALLENGER, CHAMPION, DECISION_TAG, MODEL_NAME, REJECTED, RegisteredRun, connect,
                         load_baseline, load_version, log_training_run, record_decision, record_override,
                         version_by_alias)
from ml.scoring import open_intakes, score_intakes, write_scores
from ml.store import LABELS, MODEL_DRIFT, read_table, write_table


def build_label_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    labels = build_labels(con)
    write_table(con, LABELS, labels)
    return labels


def train_and_register(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[TrainingReport, RegisteredRun]:
    """Train on the warehouse's labels and feature marts; log the run and register a challenger. ``con`` is the
    warehouse opened with ``settings.duckdb_memory_limit``: its cache goes back once the marts are read."""
    features, labels = read_features(con), read_table(con, LABELS)
    within_agency, end = read_features(con, within_agency=True), data_end(con)
    with cache_released(con, settings.duckdb_memory_limit):
        report = train_and_evaluate(features, labels, within_agency, end)
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
    decision = evaluate_gates(load_version(client, challenger), test, load_baseline(client, challenger),
                              champion=None if champion is None else load_version(client, champion), limits=limits)
    decision.champion_version = None if champion is None else str(champion.version)
    record_decision(client, challenger, decision)
    return decision


def score_open_intakes(con: duckdb.DuckDBPyConnection, settings: Settings,
                       scored_at: dt.datetime | None = None) -> tuple[str | None, int]:
    """Score every open intake with the champion into ``ml.intake_scores``; (champion version, rows scored)."""
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


def write_model_drift(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[str | None, pd.DataFrame]:
    """The champion's drift on each closed outcome window against its training window (``ml.drift``) into
    ``ml.model_drift``; (champion version, the table). Empty without a champion."""
    client = connect(settings)
    champion = version_by_alias(client, CHAMPION)
    if champion is None:
        drift = pd.DataFrame(columns=DRIFT_COLUMNS)
    else:
        valid_from = pd.Timestamp(client.get_run(champion.run_id).data.params["valid_from"])
        drift = drift_report(load_version(client, champion), read_features(con), read_table(con, LABELS), valid_from)
    version = None if champion is None else str(champion.version)
    write_table(con, MODEL_DRIFT, drift.assign(model_version=version or ""))
    return version, drift


OVERRIDE_PROMOTION = "override_promotion"  # the audit action
MAX_REASON_CHARS = 2000  # within what MLflow keeps of a tag's value


def override_promotion(engine: Engine, user: Account, settings: Settings, version: str, reason: str) -> None:
    """Make champion a version the promotion gate rejected, for a written reason (data scientists only).

    The audit row (action ``override_promotion``, the version and the reason in its detail) and the version's
    override tags (``ml.registry.record_override``) are written together: if MLflow fails, the audit row is rolled
    back. The gate's own verdict stays recorded beside the override.
    """
    require_role(user, DATA_SCIENTIST)
    reason = reason.strip()
    if not reason:
        raise ValueError(f"overriding the gate for {MODEL_NAME} v{version} needs a written reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason for overriding {MODEL_NAME} v{version} has {len(reason)} characters; "
                         f"at most {MAX_REASON_CHARS}")
    client = connect(settings)
    try:
        overridden = client.get_model_version(MODEL_NAME, str(version))
    except MlflowException:
        raise ValueError(f"{MODEL_NAME} has no version {version}") from None
    verdict = overridden.tags.get(DECISION_TAG)
    if verdict != REJECTED:
        raise ValueError(f"{MODEL_NAME} v{version} was not rejected by the gate ({verdict or 'not judged yet'}): "
                         "there is nothing to override")
    champion = version_by_alias(client, CHAMPION)
    before = "none" if champion is None else f"v{champion.version}"
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, OVERRIDE_PROMOTION, user.agency_id,
                                    detail=f"{MODEL_NAME} v{version} made champion over the gate "
                                           f"(champion before: {before}); reason: {reason}"))
        record_override(client, overridden, reason, user.user_id)
