"""The risk model as Dagster assets: labels, the trained and registered model, promotion, scores, drift.

The features are the dbt marts ``marts.intake_features`` and ``marts.intake_features_within_agency`` (assets of
the conform group, keyed ``[schema, model]`` by the dbt translator); the labels read the dbt layer's report
versions. Tables go to the warehouse's ``ml`` schema; the model, its run and its promotion decision to MLflow.
"""

import dataclasses
import logging
from pathlib import Path

import dagster as dg

from kodomo.settings import Settings, get_settings
from orchestration.defs.resources import KodomoHome, Warehouse

GROUP = "ml"
progress_log = logging.getLogger("kodomo.progress")
# What the labels read: the report versions with the linked child, and the data's end.
LABEL_INPUTS = [dg.AssetKey(["intermediate", "int_case_report_versions_linked"]),
                dg.AssetKey(["intermediate", "int_data_extent"])]
FEATURES = dg.AssetKey(["marts", "intake_features"])
FEATURES_WITHIN_AGENCY = dg.AssetKey(["marts", "intake_features_within_agency"])
LABELS = dg.AssetKey(["ml", "labels"])
MODEL = dg.AssetKey(["ml", "child_risk_model"])
PROMOTION = dg.AssetKey(["ml", "promotion"])
SCORES = dg.AssetKey(["ml", "intake_scores"])
DRIFT = dg.AssetKey(["ml", "model_drift"])


# ``ml.lifecycle`` is imported inside each asset: it pulls in MLflow, LightGBM and scikit-learn, which
# take seconds to import, and loading the code location (``dagster dev``, every CLI call) should not.


def _settings(home: KodomoHome) -> Settings:
    return dataclasses.replace(get_settings(), home=Path(home.path))


def _say(context: dg.AssetExecutionContext, message: str) -> None:
    context.log.info(message)
    progress_log.info(message)


@dg.asset(key=LABELS, group_name=GROUP, deps=LABEL_INPUTS,
          description="Outcome of source-feeds.md §7 per intake whose 365-day window closed (linked children).")
def ml_labels(warehouse: Warehouse) -> dg.MaterializeResult:
    from ml.lifecycle import build_label_table

    with warehouse.connect() as con:
        labels = build_label_table(con)
    return dg.MaterializeResult(metadata={"intakes": len(labels), "positives": int(labels["outcome"].sum())})


@dg.asset(key=MODEL, group_name=GROUP, deps=[LABELS, FEATURES, FEATURES_WITHIN_AGENCY],
          description="LightGBM trained, calibrated and evaluated; logged to MLflow, registered as challenger.")
def ml_child_risk_model(context: dg.AssetExecutionContext, warehouse: Warehouse,
                        home: KodomoHome) -> dg.MaterializeResult:
    from ml.lifecycle import train_and_register
    from ml.pipeline import NotEnoughData

    _say(context, "child_risk: training LightGBM and its baselines, evaluating, logging to MLflow")
    try:
        with warehouse.connect() as con:
            report, registered = train_and_register(con, _settings(home))
    except NotEnoughData as exc:
        # A landing too small to learn from is not a pipeline failure: no new challenger this run.
        _say(context, f"child_risk not trained: {exc}")
        return dg.MaterializeResult(metadata={"trained": False, "reason": str(exc)})
    _say(context, f"child_risk v{registered.version} registered as challenger: test AUC "
                  f"{report.metrics['lightgbm']['auc']}, ECE {report.ece:.3f}")
    return dg.MaterializeResult(metadata={
        "trained": True, "run_id": registered.run_id, "version": registered.version,
        "test_auc": report.auc, "test_ece": report.ece,
        "test_auc_logistic": report.metrics["logistic"]["auc"].value,
        "test_auc_checklist": report.metrics["checklist"]["auc"].value,
        "test_auc_within_agency": report.metrics["lightgbm_within_agency"]["auc"].value,
    })


@dg.asset(key=PROMOTION, group_name=GROUP, deps=[MODEL],
          description="The challenger becomes champion only if it passes the gates; the decision is logged.")
def ml_promotion(context: dg.AssetExecutionContext, warehouse: Warehouse, home: KodomoHome) -> dg.MaterializeResult:
    from ml.lifecycle import promote_challenger

    with warehouse.connect() as con:
        decision = promote_challenger(con, _settings(home))
    if decision is None:
        return dg.MaterializeResult(metadata={"judged": False})
    _say(context, ("child_risk promoted to champion: " if decision.promote else "child_risk not promoted: ")
         + "; ".join(decision.reasons))
    return dg.MaterializeResult(metadata={"judged": True, "promoted": decision.promote, "reasons": decision.reasons,
                                          "champion_before": decision.champion_version or "none"})


@dg.asset(key=SCORES, group_name=GROUP, deps=[PROMOTION, FEATURES],
          description="Open intakes scored by the champion: probability and top reasons (ml.intake_scores).")
def ml_intake_scores(context: dg.AssetExecutionContext, warehouse: Warehouse,
                     home: KodomoHome) -> dg.MaterializeResult:
    from ml.lifecycle import score_open_intakes

    with warehouse.connect() as con:
        version, rows = score_open_intakes(con, _settings(home))
    _say(context, f"intake scores: {rows} open intakes scored by champion {version}" if version
         else "intake scores: no champion yet, nothing scored")
    return dg.MaterializeResult(metadata={"champion": version or "none", "scored": rows})


@dg.asset(key=DRIFT, group_name=GROUP, deps=[PROMOTION, LABELS, FEATURES],
          description="The champion's drift per closed outcome window against its training window, with the "
                      "calibration alert of ml.drift (ml.model_drift).")
def ml_model_drift(context: dg.AssetExecutionContext, warehouse: Warehouse, home: KodomoHome) -> dg.MaterializeResult:
    from ml.lifecycle import write_model_drift

    with warehouse.connect() as con:
        version, drift = write_model_drift(con, _settings(home))
    alerts = drift.loc[drift["alert"].astype(bool), "window"].tolist()
    if alerts:
        _say(context, f"model drift: calibration of champion {version} drifted beyond the bound in {', '.join(alerts)}")
    return dg.MaterializeResult(metadata={"champion": version or "none", "windows": len(drift),
                                          "alerts": ", ".join(alerts) or "none"})


ml_assets = [ml_labels, ml_child_risk_model, ml_promotion, ml_intake_scores, ml_model_drift]
