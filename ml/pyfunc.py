"""The registered model as one MLflow pyfunc: the booster, the history margin, the calibrator and the review threshold.

``mlflow.pyfunc.load_model("models:/child_risk@champion")`` (or ``mlflow models serve -m models:/child_risk@champion
--env-manager local``) takes a frame of intake features — the columns of the mart ``marts.intake_features`` that
``model_input_columns`` names, one row per intake — and returns per intake the calibrated probability
(``risk_score``), its 95 % interval (``interval_low``, ``interval_high``) and the top reasons (``top_reasons``, JSON),
exactly what ``ml.scoring`` writes to ``ml.intake_scores``.

The model's code is the installed ``kodomo`` distribution (its ``ml`` package encodes the features and explains the
score), not copied into the model (no ``code_paths``): the model pins nothing else of the project, and a serving
environment is the project's environment (``--env-manager local``).
"""
from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd

from ml.features import design_matrix, feature_values
from ml.model import RiskModel, model_input_columns


class ChildRiskModel(mlflow.pyfunc.PythonModel):
    """The whole deployed model behind MLflow's ``predict``."""

    def __init__(self, model: RiskModel):
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        missing = [c for c in model_input_columns() if c not in model_input.columns]
        if missing:
            raise ValueError(f"the intake features lack the column(s) {', '.join(missing)} "
                             "(the columns of marts.intake_features)")
        features = model_input.reset_index(drop=True)
        probability, reasons = self.model.explain(design_matrix(features), feature_values(features))
        intervals = [self.model.interval(float(p)) or (np.nan, np.nan) for p in probability]
        return pd.DataFrame({
            "risk_score": probability,
            "interval_low": [low for low, _ in intervals],
            "interval_high": [high for _, high in intervals],
            "top_reasons": [json.dumps(r, ensure_ascii=False) for r in reasons],
        })
