"""What the model page shows about a registered version: its run's test metrics, promotion decision, model card.

Read-only: only MLflow's get and load calls (the page's retraining and override go through ``ml.lifecycle`` and
``orchestration.defs.ml.retraining``, which check the role and audit).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from kodomo.appdata.warehouse import WarehouseUnavailable, read_only
from ml.registry import (DECISION_TAG, MODEL_NAME, OVERRIDE_BY_TAG, OVERRIDE_REASON_TAG, OVERRIDE_TAG,
                         version_by_alias)
from ml.store import MODEL_DRIFT

METRICS = ("auc", "average_precision", "brier", "ece")  # as ml.pipeline's flat_metrics names them
REASONS_TAG = "promotion.reasons"
MODEL_CARD = "model_card.html"
SUBGROUPS_ARTIFACT = "tables/subgroups.csv"
CALIBRATION_PLOT = "plots/calibration.png"
# The subgroup dimensions the page shows (ml.fairness names them).
SHOWN_DIMENSIONS = ("age_band", "agency_type", "prefecture")


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str
    registered: dt.datetime
    metrics: dict[str, float]
    decision: str | None
    reasons: list[str]
    override_reason: str | None = None  # a data scientist promoted it over the gate's rejection, for this reason
    override_by: str | None = None


def version_info(client: MlflowClient, alias: str) -> VersionInfo | None:
    version = version_by_alias(client, alias)
    if version is None:
        return None
    run = client.get_run(version.run_id)
    reasons = run.data.tags.get(REASONS_TAG, "")
    return VersionInfo(
        version=str(version.version), run_id=version.run_id,
        registered=dt.datetime.fromtimestamp(version.creation_timestamp / 1000),
        metrics=run.data.metrics, decision=run.data.tags.get(DECISION_TAG),
        reasons=[r for r in reasons.split("; ") if r],
        override_reason=run.data.tags.get(OVERRIDE_REASON_TAG) if OVERRIDE_TAG in run.data.tags else None,
        override_by=run.data.tags.get(OVERRIDE_BY_TAG))


def _estimate(metrics: dict[str, float], name: str) -> str:
    low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
    interval = "" if low is None or high is None else f" [{low:.3f}, {high:.3f}]"
    return f"{metrics[name]:.3f}{interval}"


def metrics_table(metrics: dict[str, float]) -> pd.DataFrame:
    """One row per score (lightgbm, logistic, checklist, …), one column per test metric: value [95% interval]."""
    cells: dict[str, dict[str, str]] = {}
    for name in metrics:
        rest = name.removeprefix("test_")
        metric = next((m for m in METRICS if rest.endswith(f"_{m}")), None)
        if name.startswith("test_") and metric:
            score = rest.removesuffix(f"_{metric}")
            cells.setdefault(score, {})[metric] = _estimate(metrics, name)
    table = pd.DataFrame.from_dict(cells, orient="index").reindex(columns=list(METRICS)).fillna("—")
    return table.sort_index()


def comparisons_table(metrics: dict[str, float]) -> pd.DataFrame:
    """AUC differences between scores on the test slice (``test_auc_<a>_minus_<b>``)."""
    names = sorted(n for n in metrics if n.startswith("test_auc_") and n.split("_")[-1] not in ("low", "high"))
    return pd.DataFrame({"auc": [_estimate(metrics, n) for n in names]},
                        index=[n.removeprefix("test_auc_").replace("_minus_", " − ") for n in names])


def model_card(run_id: str) -> str | None:
    try:
        return mlflow.artifacts.load_text(f"runs:/{run_id}/{MODEL_CARD}")
    except (MlflowException, OSError):
        return None


# The promotion gate's reasons (ml.promotion.decide), as patterns: each becomes the page's own sentence.
_REASONS = (
    ("no_champion", re.compile(r"no champion yet: AUC (?P<auc>\S+) stands alone")),
    ("auc_worse", re.compile(r"AUC (?P<auc>\S+) is worse than the champion's (?P<champion>\S+) on the same test slice")),
    ("auc_not_worse", re.compile(r"AUC (?P<auc>\S+) ≥ champion's (?P<champion>\S+) on the same test slice")),
    ("ece_over", re.compile(r"ECE (?P<ece>\S+) exceeds (?P<limit>\S+)")),
    ("ece_within", re.compile(r"ECE (?P<ece>\S+) ≤ (?P<limit>\S+)")),
    ("gaps_within", re.compile(r"subgroup gaps within limits")),
    ("gap", re.compile(r"subgroup gap: (?P<detail>.*)")),
)


def promotion_reason(reason: str) -> tuple[str, dict[str, str]] | None:
    """The reason's text key (``promotion_reason.<name>``) and its values; None for a reason of another form."""
    for name, pattern in _REASONS:
        if matched := pattern.fullmatch(reason):
            return f"promotion_reason.{name}", matched.groupdict()
    return None


def runs_table(client: MlflowClient) -> pd.DataFrame:
    """Every registered version of the model, newest first: its run, test AUC and ECE with intervals, decision."""
    rows = []
    aliases = client.get_registered_model(MODEL_NAME).aliases  # alias -> version (searches leave them out)
    for version in client.search_model_versions(f"name = '{MODEL_NAME}'"):
        metrics = client.get_run(version.run_id).data.metrics
        rows.append({
            "version": int(version.version), "run_id": version.run_id,
            "registered": dt.datetime.fromtimestamp(version.creation_timestamp / 1000),
            "auc": _estimate(metrics, "test_lightgbm_auc") if "test_lightgbm_auc" in metrics else "—",
            "ece": _estimate(metrics, "test_lightgbm_ece") if "test_lightgbm_ece" in metrics else "—",
            "decision": version.tags.get(DECISION_TAG, ""),
            "override": version.tags.get(OVERRIDE_REASON_TAG, ""),
            "aliases": ", ".join(sorted(a for a, v in aliases.items() if str(v) == str(version.version))),
        })
    return pd.DataFrame(rows).sort_values("version", ascending=False).reset_index(drop=True)


def subgroups(run_id: str) -> pd.DataFrame | None:
    """The run's test-slice subgroup table as published (small cells suppressed), for the shown dimensions."""
    from ml.model_card import subgroup_display

    try:
        path = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{SUBGROUPS_ARTIFACT}")
    except (MlflowException, OSError):
        return None
    table = pd.read_csv(path, dtype={"group": str})
    return subgroup_display(table[table["dimension"].isin(("all", *SHOWN_DIMENSIONS))]).reset_index(drop=True)


def calibration_plot(run_id: str) -> str | None:
    """The local path of the run's calibration (reliability) plot."""
    try:
        return mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{CALIBRATION_PLOT}")
    except (MlflowException, OSError):
        return None


def drift(warehouse_path) -> pd.DataFrame | None:
    """The champion's drift per closed outcome window (``ml.model_drift``); None before any scoring wrote it."""
    schema, table = MODEL_DRIFT.split(".")
    try:
        with read_only(warehouse_path) as con:
            exists = con.execute("select count(*) from information_schema.tables where table_schema = ? "
                                 "and table_name = ?", [schema, table]).fetchone()[0]
            return con.execute(f"select * from {MODEL_DRIFT} order by first_received").df() if exists else None
    except WarehouseUnavailable:
        return None
