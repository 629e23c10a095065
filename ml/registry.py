"""MLflow: where runs are tracked, what each training run logs, the ``child_risk`` registry and its aliases.

Local runs track to ``sqlite:///$KODOMO_HOME/mlflow/mlflow.db`` with artifacts under
``$KODOMO_HOME/mlflow/artifacts``; with ``KODOMO_ENV=production`` tracking and registry use
``KODOMO_POSTGRES_URL`` (configuration only, no code change).
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import ColSpec, DataType, Schema
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from kodomo.postgres import ensure_store_schemas
from kodomo.settings import Settings
from ml.features import design_matrix, feature_groups
from ml.margin import HistoryMargin
from ml.evaluate import Estimate
from ml.model import BaselineModel, RiskModel, model_input_columns
from ml.model_card import render_model_card
from ml.pipeline import CALIBRATION, SCORES, TrainingReport
from ml.plots import calibration_plot, roc_pr_plot, shap_summary_plot
from ml.promotion import Decision
from ml.pyfunc import ChildRiskModel

MODEL_NAME = "child_risk"
EXPERIMENT = "child_risk"
CHALLENGER, CHAMPION = "challenger", "champion"
DECISION_TAG = "promotion.decision"
PROMOTED, REJECTED = "promoted", "rejected"
# A person's promotion of a version the gate rejected: the gate's own verdict stays as it was beside these.
OVERRIDE_TAG, OVERRIDE_REASON_TAG, OVERRIDE_BY_TAG = ("promotion.override", "promotion.override_reason",
                                                      "promotion.override_by")
# Explicit requirements: MLflow would otherwise spawn a process to infer them (seconds per model). The pyfunc's
# own code is the installed kodomo distribution (``ml.pyfunc``), which no package index serves.
MODEL_REQUIREMENTS = [f"lightgbm=={lgb.__version__}", f"scikit-learn=={sklearn.__version__}",
                      f"mlflow=={mlflow.__version__}", f"pandas=={pd.__version__}"]
BASELINE_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}"]
# Versions registered before the pyfunc (a bare booster) keep their history margin and calibrator beside them in the
# run: ``load_version`` still assembles those.
MARGIN_ARTIFACT = "history_margin.json"
CALIBRATOR_TAG = "calibrator_uri"
# A version that is another's booster with a calibrator refitted on a later window (``ml.recalibration``).
RECALIBRATION_OF_TAG, RECALIBRATION_WINDOW_TAG = "recalibration.of", "recalibration.window"


def tracking_uri(settings: Settings) -> str:
    return settings.mlflow_tracking_uri


def artifact_location(settings: Settings) -> str:
    return settings.mlflow_artifacts_uri


def connect(settings: Settings) -> MlflowClient:
    """Point MLflow at the environment's tracking and registry store (a local one made whole first)."""
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    ensure_store_schemas(settings)
    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        ensure_sqlite_store(Path(uri.removeprefix("sqlite:///")), artifact_location(settings))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_sqlite_store(path: Path, artifacts_uri: str) -> None:
    """A local store that MLflow can open: created whole, or rebuilt if a crash left it half-made.

    MLflow creates its tables by migrations, which on SQLite are not one transaction: killed meanwhile, they
    leave a file that every later run fails on (``_alembic_tmp_experiments already exists``). So a new store is
    made at a temporary path and renamed into place when complete; a half-made one holding no run is rebuilt
    (nothing is lost); one that holds runs is left for a person (a one-line error, never deleted).
    """
    for leftover in path.parent.glob(f"{path.name}.new-*"):
        leftover.unlink()  # a store whose creation was killed
    if path.exists():
        problem = _half_made(path)
        if problem is None:
            return
        if _holds_runs(path):
            raise RuntimeError(f"the MLflow store {path} is half-migrated ({problem}) and holds runs: "
                               "restore it from a backup or run 'mlflow db upgrade' on it")
        path.unlink()
    scratch = path.with_name(f"{path.name}.new-{os.getpid()}")
    store = SqlAlchemyStore(f"sqlite:///{scratch}", artifacts_uri)  # creates and migrates every table
    store.engine.dispose()
    os.replace(scratch, path)


def _half_made(path: Path) -> str | None:
    """What is wrong with the store's tables, or None when they are whole."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        tables = {name for (name,) in con.execute("select name from sqlite_master where type = 'table'")}
        leftovers = sorted(t for t in tables if t.startswith("_alembic_tmp_"))
        if leftovers:
            return f"leftover {', '.join(leftovers)} of an interrupted migration"
        missing = {"alembic_version", "experiments", "runs", "registered_models", "model_versions"} - tables
        if missing:
            return f"no {', '.join(sorted(missing))} table"
        if con.execute("select count(*) from alembic_version").fetchone()[0] != 1:
            return "no schema version"
    return None


def _holds_runs(path: Path) -> bool:
    with contextlib.closing(sqlite3.connect(path)) as con:
        tables = {name for (name,) in con.execute("select name from sqlite_master where type = 'table'")}
        return "runs" in tables and con.execute("select count(*) from runs").fetchone()[0] > 0


def fail_running_runs(settings: Settings) -> list[str]:
    """Mark ``FAILED`` the runs still ``RUNNING`` (their process was killed); return their ids."""
    client = connect(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    running = client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'RUNNING'")
    for run in running:
        client.set_terminated(run.info.run_id, status="FAILED")
    return [run.info.run_id for run in running]


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=artifact_location(settings))


@dataclass(frozen=True)
class RegisteredRun:
    run_id: str
    version: str


def run_params(report: TrainingReport) -> dict:
    counts = report.counts
    return {
        **{k: v for k, v in report.lightgbm.params.items() if k not in ("verbose", "metric")},
        "rounds": report.lightgbm.rounds,
        "history_margin": ",".join(report.model.margin.features),
        "calibration": CALIBRATION,
        "review_threshold": report.model.review_threshold,
        "logistic_c": report.logistic_c,
        "features": len(report.model.feature_names),
        "data_end": report.data_end.isoformat(),
        **report.split.as_params(),
        **{f"{slice_}_intakes": int(counts.loc[slice_, "intakes"]) for slice_ in counts.index},
        **{f"{slice_}_positives": int(counts.loc[slice_, "positives"]) for slice_ in counts.index},
    }


def _log_figures(report: TrainingReport, folder: Path) -> None:
    y = report.test["outcome"].to_numpy()
    shap_summary_plot(report.test_contributions, report.test_matrix, folder / "shap_summary.png")
    calibration_plot(y, report.test["lightgbm"].to_numpy(), report.ece, folder / "calibration.png")
    roc_pr_plot(y, {s: report.test[s].to_numpy() for s in SCORES}, folder / "roc_pr.png")
    for name in ("shap_summary.png", "calibration.png", "roc_pr.png"):
        mlflow.log_artifact(str(folder / name), artifact_path="plots")


def model_signature(example: pd.DataFrame, output: pd.DataFrame) -> ModelSignature:
    """The mart's column types as MLflow enforces them; an assessment item may be absent (null) for any intake."""
    inferred = infer_signature(example, output)
    inputs = Schema([ColSpec(c.type, c.name, required=c.type != DataType.string) for c in inferred.inputs.inputs])
    return ModelSignature(inputs, inferred.outputs)


def log_training_run(report: TrainingReport, settings: Settings) -> RegisteredRun:
    """Log everything about one training run, register the whole model (``ml.pyfunc``) and make it the challenger."""
    client = connect(settings)
    example = report.test_features[model_input_columns()].head(5).reset_index(drop=True)
    whole = ChildRiskModel(report.model)
    with mlflow.start_run(experiment_id=experiment_id(client, settings)) as run, \
            tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.set_tags({"data": "synthetic", "model": MODEL_NAME})
        mlflow.log_params(run_params(report))
        mlflow.log_metrics(report.flat_metrics())
        info = mlflow.pyfunc.log_model(
            name="model", python_model=whole, registered_model_name=MODEL_NAME,
            signature=model_signature(example, whole.predict(None, example)), input_example=example,
            pip_requirements=MODEL_REQUIREMENTS)
        baseline = mlflow.sklearn.log_model(report.logistic, name="baseline_logistic",
                                            pip_requirements=BASELINE_REQUIREMENTS)
        mlflow.set_tags({"baseline_uri": baseline.model_uri})
        mlflow.log_dict({"features": report.model.feature_names, "groups": feature_groups()}, "feature_list.json")
        mlflow.log_text(report.lightgbm.selection.to_csv(index=False), "tables/hyperparameter_selection.csv")
        mlflow.log_text(report.fairness.to_csv(index=False), "tables/subgroups.csv")
        mlflow.log_text(report.importance.rename("mean_abs_shap").to_csv(), "tables/shap_importance.csv")
        mlflow.log_text(report.counts.to_csv(), "tables/slices.csv")
        _log_figures(report, folder)
        version = str(info.registered_model_version)
        mlflow.log_text(render_model_card(report, version, run.info.run_id), "model_card.html")
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return RegisteredRun(run.info.run_id, version)


def log_recalibration_run(model: RiskModel, source: ModelVersion, window: str, params: dict[str, str | int | float],
                          metrics: dict[str, dict[str, Estimate]], test: pd.DataFrame, subgroups: pd.DataFrame,
                          settings: Settings) -> RegisteredRun:
    """Register ``model`` (``source``'s booster and margin, a new calibrator) as the challenger, in a run of its own.

    The run keeps the source run's parameters (the booster's training) with ``params`` over them (the new test
    boundary, the recalibration window), its test-part ``metrics``, subgroup table and calibration plot, and the
    source run's baseline and feature list (the gate's fairness reference); run and version are tagged with the
    source version and the window."""
    client = connect(settings)
    source_run = client.get_run(source.run_id)
    example = test[model_input_columns()].head(5).reset_index(drop=True)
    whole = ChildRiskModel(model)
    tags = {RECALIBRATION_OF_TAG: str(source.version), RECALIBRATION_WINDOW_TAG: window}
    flat = {f"test_{score}_{name}{suffix}": value for score, estimates in metrics.items()
            for name, e in estimates.items() for suffix, value in (("", e.value), ("_low", e.low), ("_high", e.high))}
    with mlflow.start_run(experiment_id=experiment_id(client, settings)) as run, \
            tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"data": "synthetic", "model": MODEL_NAME, **tags,
                         "baseline_uri": source_run.data.tags["baseline_uri"]})
        mlflow.log_params({**source_run.data.params, **params, "review_threshold": model.review_threshold})
        mlflow.log_metrics({**flat, "review_threshold": model.review_threshold})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=whole, registered_model_name=MODEL_NAME,
            signature=model_signature(example, whole.predict(None, example)), input_example=example,
            pip_requirements=MODEL_REQUIREMENTS)
        mlflow.log_dict(mlflow.artifacts.load_dict(f"runs:/{source.run_id}/feature_list.json"), "feature_list.json")
        mlflow.log_text(subgroups.to_csv(index=False), "tables/subgroups.csv")
        probability = model.predict_proba(design_matrix(test))[:, 1]
        plot = calibration_plot(test["outcome"].to_numpy(), probability, metrics["lightgbm"]["ece"].value,
                                Path(tmp) / "calibration.png")
        mlflow.log_artifact(str(plot), artifact_path="plots")
    version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return RegisteredRun(run.info.run_id, version)


def version_by_alias(client: MlflowClient, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        return None


def load_version(client: MlflowClient, version: ModelVersion) -> RiskModel:
    """The model of a registered version: the pyfunc's, or for a version registered as a bare booster, the booster
    with the margin, calibrator and review threshold of the run that logged it."""
    run = client.get_run(version.run_id)
    uri = f"models:/{MODEL_NAME}/{version.version}"
    if CALIBRATOR_TAG not in run.data.tags:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    booster = mlflow.lightgbm.load_model(uri)
    margin = HistoryMargin.from_dict(mlflow.artifacts.load_dict(f"runs:/{version.run_id}/{MARGIN_ARTIFACT}"))
    calibrator = mlflow.sklearn.load_model(run.data.tags[CALIBRATOR_TAG])
    return RiskModel(booster, margin, calibrator, float(run.data.params["review_threshold"]))


def load_baseline(client: MlflowClient, version: ModelVersion) -> BaselineModel:
    """The logistic-regression baseline logged in the same run as ``version`` (on the same features)."""
    run = client.get_run(version.run_id)
    features = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/feature_list.json")["features"]
    return BaselineModel(mlflow.sklearn.load_model(run.data.tags["baseline_uri"]), features)


def record_decision(client: MlflowClient, challenger: ModelVersion, decision: Decision) -> None:
    """Log the decision and its reasons (run and version tags, ``promotion.json``); move the alias if promoted."""
    outcome = PROMOTED if decision.promote else REJECTED
    reasons = "; ".join(decision.reasons)
    for key, value in {DECISION_TAG: outcome, "promotion.reasons": reasons}.items():
        client.set_tag(challenger.run_id, key, value)
        client.set_model_version_tag(MODEL_NAME, challenger.version, key, value)
    client.log_text(challenger.run_id, json.dumps(decision.as_dict(), indent=2, ensure_ascii=False), "promotion.json")
    if decision.promote:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, challenger.version)


def record_override(client: MlflowClient, version: ModelVersion, reason: str, user_id: str) -> None:
    """Tag the version and its run with who overrode the gate and why, then make the version champion."""
    for key, value in {OVERRIDE_TAG: PROMOTED, OVERRIDE_REASON_TAG: reason, OVERRIDE_BY_TAG: user_id}.items():
        client.set_tag(version.run_id, key, value)
        client.set_model_version_tag(MODEL_NAME, version.version, key, value)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)
