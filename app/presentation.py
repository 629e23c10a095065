"""What the pages show, computed without Streamlit: ages as staff write them, the 48-hour safety-check deadline,
the model's reasons in percentage points, the what-ifs that can apply, and when model and checklist disagree."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.assessment import checklist, missing_items
from ml.explain import grouped_contributions
from ml.features import design_matrix, feature_values
from ml.model import RiskModel

SAFETY_CHECK = dt.timedelta(hours=48)  # the national rule: see the child within 48 hours of receiving a report
SHOWN_REASONS = 8


@dataclass(frozen=True)
class SafetyCheck:
    deadline: dt.datetime
    confirmed_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        """confirmed / overdue / open."""
        if self.confirmed_at is not None:
            return "confirmed"
        return "overdue" if now > self.deadline else "open"


def safety_check(received_at: dt.datetime, confirmed_at: dt.datetime | None) -> SafetyCheck:
    confirmed = None if confirmed_at is None or pd.isna(confirmed_at) else pd.Timestamp(confirmed_at).to_pydatetime()
    return SafetyCheck(pd.Timestamp(received_at).to_pydatetime() + SAFETY_CHECK, confirmed)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def signed_reasons(model: RiskModel, features: pd.DataFrame, probability: float,
                   k: int = SHOWN_REASONS) -> pd.DataFrame:
    """The inputs that moved this intake's probability most, up or down, in percentage points.

    The model explains its log-odds additively (TreeSHAP, grouped per input). A bar is the change in the
    shown probability if that input's part of the log-odds were taken away, all others kept:
    ``100 * (p - sigmoid(logit(p) - contribution))``. The bars are approximate and need not add up exactly to
    the distance from the base rate (the calibration is not a straight line), but their signs and order are the
    model's own. Columns: feature, value, points (signed), sorted by size.
    """
    grouped = grouped_contributions(model.contributions(design_matrix(features))).iloc[0]
    values = feature_values(features).iloc[0]
    points = 100 * (probability - _sigmoid(_logit(probability) - grouped.to_numpy()))
    table = pd.DataFrame({"feature": grouped.index, "value": [values[f] for f in grouped.index], "points": points})
    table = table[table["points"].abs() >= 0.05]
    return table.reindex(table["points"].abs().sort_values(ascending=False).index).head(k).reset_index(drop=True)


def disagreement(probability: float, review_threshold: float, verdict: int) -> str | None:
    """The text key saying how the model and the checklist disagree, or None when they point the same way.

    The checklist calls for protection to be considered at verdict 2 or 3; the model flags for review at its
    threshold."""
    model_flags, checklist_flags = probability >= review_threshold, verdict >= 2
    if model_flags and not checklist_flags:
        return "disagree_model_high"
    if checklist_flags and not model_flags:
        return "disagree_checklist_high"
    return None


# The assessment items as the sheet groups them for a worker (every item of the assessments contract, once).
ITEM_GROUPS = {
    "injury": ("injury_present", "injury_head_face_abdomen", "injury_severity", "injury_old_and_new"),
    "child": ("child_disclosure", "child_wants_protection", "child_disability", "growth_concern",
              "sexual_abuse_suspected"),
    "caregiver": ("caregiver_explanation_inconsistent", "caregiver_substance_abuse", "caregiver_mental_illness",
                  "caregiver_refuses_contact", "caregiver_threatens_harm", "caregiver_requests_help"),
    "household": ("domestic_violence", "new_partner_in_household", "single_parent", "economic_hardship",
                  "social_isolation", "sibling_reported"),
}
# The history behind the features, as counts a worker reads.
HISTORY_COUNTS = ("prior_reports_1y", "prior_reports_2y", "prior_reports_total", "prior_substantiated",
                  "prior_protections", "prior_severe_harm", "prior_agencies_2y", "moves_2y", "moves_total",
                  "missed_checkups", "overdue_immunizations", "open_alerts")
# The answer that would most raise concern, per item scale: what an unknown might turn out to be.
_WORST = {"injury_severity": "severe", "child_disclosure": "serious"}


def checklist_answers(features: pd.DataFrame) -> pd.Series:
    """Each of the sheet's questions (q1..q8) answered yes / no / unknown.

    The sheet ticks only a recorded yes; a question not ticked is ``unknown`` when an item still unknown (or not
    recorded) could make it yes once found out, else ``no``."""
    answers, _ = checklist(features)
    worst = features.copy()
    for item in missing_items(features):
        worst[item] = _WORST.get(item, "yes")
    could_be, _ = checklist(worst)
    return pd.Series(["yes" if yes else "unknown" if maybe else "no" for yes, maybe in zip(answers, could_be)],
                     index=answers.index)
