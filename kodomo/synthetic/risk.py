"""The intake: what the caseworker can record, what the worker decides, and the true risk.

``oracle_probability`` is THE known function of the generator: for every intake report, the chance
that the child has another substantiated (or severe-harm) report within 365 days is exactly this
logistic function of what was observable at intake — the assessment items as recorded (unknowns
included) and the child's history on record across all agencies. The simulation then draws the
outcome from it, so the best achievable AUC is that of this function.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kodomo.contracts import contract

# Family factors observed by an item: (sensitivity, false-positive rate, base share of "unknown").
_OBSERVED_FACTORS = {
    "single_parent": (0.95, 0.02, 0.03),
    "economic_hardship": (0.75, 0.05, 0.12),
    "caregiver_mental_illness": (0.6, 0.03, 0.22),
    "caregiver_substance_abuse": (0.55, 0.02, 0.28),
    "domestic_violence": (0.7, 0.04, 0.15),
    "social_isolation": (0.65, 0.05, 0.2),
    "new_partner_in_household": (0.7, 0.02, 0.15),
}
# Injury severity per abuse type: the danger thresholds for minor, moderate and severe.
_INJURY_THRESHOLDS = {
    "physical": (-0.2, 1.0, 1.9),
    "sexual": (0.8, 1.6, 2.4),
    "neglect": (1.2, 2.0, 2.8),
    "psychological": (1.8, 2.6, 9.0),
}
SEVERITIES = tuple(c for c in contract("assessments").column("injury_severity").codes if c != "unknown")

# --- the oracle -----------------------------------------------------------------------------------
_INTERCEPT = -3.0
_SEVERITY_WEIGHT = {"none": 0.0, "minor": 0.15, "moderate": 0.4, "severe": 0.75, "unknown": 0.25}
# Degree matters: a serious account of violence weighs more than a visible bruise, bruise or not.
_DISCLOSURE_WEIGHT = {"none": 0.0, "mild": 0.25, "serious": 0.9, "unknown": 0.1}
_YES_WEIGHT = {
    "injury_present": 0.0, "injury_head_face_abdomen": 0.2, "injury_old_and_new": 0.35,
    "child_wants_protection": 0.2, "child_disability": 0.1, "growth_concern": 0.2,
    "sexual_abuse_suspected": 0.35, "caregiver_explanation_inconsistent": 0.25, "caregiver_substance_abuse": 0.35,
    "caregiver_mental_illness": 0.25, "domestic_violence": 0.2, "caregiver_refuses_contact": 0.25,
    "caregiver_threatens_harm": 0.45, "new_partner_in_household": 0.2, "single_parent": 0.08,
    "economic_hardship": 0.15, "social_isolation": 0.15, "sibling_reported": 0.15, "caregiver_requests_help": -0.2,
}
_UNKNOWN_WEIGHT = 0.05  # what a caseworker could not see is itself a (weak) warning sign


@dataclass(frozen=True)
class History:
    """What was on record about the child at intake, across every agency."""

    prior_reports: int
    prior_substantiated: int  # prior reports decided "yes" by the time of intake
    prior_protections: int
    moves: int
    missed_checkups: int  # no-shows on record and not made up
    overdue_doses: int


def history_logit(h: History) -> float:
    return (0.5 * math.log1p(h.prior_reports) + 0.3 * min(h.prior_substantiated, 3)
            + 0.45 * (h.prior_protections > 0) + 0.25 * min(h.moves, 3)
            + 0.3 * min(h.missed_checkups, 2) + 0.12 * min(h.overdue_doses, 5))


def oracle_probability(items: dict[str, str], history: History, age: float) -> float:
    z = _INTERCEPT + _SEVERITY_WEIGHT[items["injury_severity"]] + _DISCLOSURE_WEIGHT[items["child_disclosure"]]
    for item, weight in _YES_WEIGHT.items():
        value = items[item]
        z += weight if value == "yes" else _UNKNOWN_WEIGHT if value == "unknown" else 0.0
    z += history_logit(history)
    z += 0.15 if age < 3 else -0.2 if age >= 13 else 0.0
    return 1.0 / (1.0 + math.exp(-z))


# --- what the caseworker records ------------------------------------------------------------------
@dataclass(frozen=True)
class Situation:
    """The latent truth of one incident, which the items observe with noise."""

    factors: dict[str, bool]
    vulnerability: float
    disability: bool
    poor_growth: bool
    age: float
    abuse_type: str
    danger: float
    route: str
    sibling_reported: bool
    history: History


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Recorder:
    """Draws yes / no / unknown values; unknowns grow where the caseworker could not see."""

    def __init__(self, rng: np.random.Generator, blindness: float):
        self.rng = rng
        self.blindness = blindness

    def flag(self, p_yes: float, p_unknown: float) -> str:
        u = self.rng.random()
        if u < min(0.9, p_unknown * self.blindness):
            return "unknown"
        return "yes" if self.rng.random() < p_yes else "no"

    def factor(self, present: bool, sensitivity: float, false_positive: float, p_unknown: float) -> str:
        return self.flag(sensitivity if present else false_positive, p_unknown)


def true_severity(abuse_type: str, danger: float) -> str:
    return SEVERITIES[sum(danger > t for t in _INJURY_THRESHOLDS[abuse_type])]


def record_items(rng: np.random.Generator, s: Situation, severe_harm: bool) -> dict[str, str]:
    f = s.factors
    refuses = rng.random() < _sigmoid(-2.4 + 0.8 * f["caregiver_substance_abuse"] + 0.5 * f["domestic_violence"]
                                      + 0.3 * s.vulnerability)
    blindness = 1.0 + 1.5 * refuses + 1.0 * (s.route == "anonymous")
    rec = _Recorder(rng, blindness)
    items = {"caregiver_refuses_contact": "yes" if refuses else "no"}
    severity = "severe" if severe_harm else true_severity(s.abuse_type, s.danger)
    injured = severity != "none"
    if rng.random() < 0.06 * blindness:  # the child was not seen
        items |= {"injury_present": "unknown", "injury_severity": "unknown", "injury_head_face_abdomen": "unknown",
                  "injury_old_and_new": "unknown"}
    else:
        # Now and then an injury is noted without its degree (seen at school, not examined).
        degree_missing = injured and rng.random() < 0.1
        items |= {
            "injury_present": "yes" if injured else "no",
            "injury_severity": "unknown" if degree_missing else severity,
            "injury_head_face_abdomen": rec.flag(_sigmoid(-0.8 + 0.6 * (severity in ("moderate", "severe"))
                                                          + 0.3 * s.danger), 0.03) if injured else "no",
            "injury_old_and_new": rec.flag(_sigmoid(-2.0 + 0.6 * s.vulnerability
                                                    + 0.5 * (s.history.prior_reports > 0)), 0.05) if injured else "no",
        }
    items["child_disclosure"] = _disclosure(rng, s, blindness)
    child_can_speak = s.age >= 6
    items["child_wants_protection"] = rec.flag(_sigmoid(-3.0 + 0.9 * s.danger), 0.05) if child_can_speak else "no"
    items["child_disability"] = rec.factor(s.disability, 0.8, 0.02, 0.05)
    items["growth_concern"] = rec.flag(0.7 if s.poor_growth else 0.3 if s.abuse_type == "neglect" else 0.03, 0.05)
    items["sexual_abuse_suspected"] = rec.flag(0.85 if s.abuse_type == "sexual" else 0.01, 0.04)
    items["caregiver_explanation_inconsistent"] = rec.flag(_sigmoid(-0.6 + 0.5 * s.danger) if injured else 0.05, 0.1)
    for item, (sensitivity, false_positive, p_unknown) in _OBSERVED_FACTORS.items():
        items[item] = rec.factor(f[item], sensitivity, false_positive, p_unknown)
    items["caregiver_threatens_harm"] = rec.flag(
        _sigmoid(-3.6 + 0.9 * f["caregiver_mental_illness"] + 0.9 * f["caregiver_substance_abuse"] + 0.6 * s.danger),
        0.05)
    items["sibling_reported"] = rec.factor(s.sibling_reported, 0.92, 0.01, 0.04)
    items["caregiver_requests_help"] = rec.flag(
        _sigmoid(-2.2 + 0.6 * f["social_isolation"] + 0.5 * f["caregiver_mental_illness"]
                 - 0.8 * f["caregiver_substance_abuse"] - 0.5 * refuses), 0.03)
    return items


def _disclosure(rng: np.random.Generator, s: Situation, blindness: float) -> str:
    """The child's own account depends on the danger, not on whether it left a mark."""
    if s.age < 3:
        return "unknown" if rng.random() < 0.2 else "none"
    if rng.random() < 0.08 * blindness:
        return "unknown"
    felt = s.danger + rng.normal(0.0, 0.8) - 0.6 * (s.age < 6) + 0.5 * (s.abuse_type == "sexual")
    return "serious" if felt > 2.0 else "mild" if felt > 0.8 else "none"


def worker_decision(rng: np.random.Generator, items: dict[str, str], history: History) -> str:
    """A caseworker's call: visible injury counts most, a child's words too little (as in 2025)."""
    score = (1.4 * (items["injury_severity"] == "severe") + 0.9 * (items["injury_severity"] == "moderate")
             + 0.3 * (items["injury_severity"] == "minor") + 0.5 * (items["injury_head_face_abdomen"] == "yes")
             + 0.5 * (items["injury_old_and_new"] == "yes") + 0.9 * (items["child_wants_protection"] == "yes")
             + 1.0 * (items["caregiver_threatens_harm"] == "yes") + 0.8 * (items["sexual_abuse_suspected"] == "yes")
             + 0.35 * (items["child_disclosure"] == "serious") + 0.3 * (items["growth_concern"] == "yes")
             + 0.4 * (items["caregiver_refuses_contact"] == "yes") + 0.6 * (history.prior_protections > 0)
             + rng.normal(0.0, 0.6))
    return "protect" if score > 1.8 else "undecided" if score > 1.1 else "no_protect"


PROTECTION_SHARE = {"protect": 0.8, "undecided": 0.25, "no_protect": 0.04}


def substantiation_probability(items: dict[str, str], s: Situation, protected: bool) -> float:
    return _sigmoid(-0.8 + 0.7 * (items["injury_severity"] in ("moderate", "severe"))
                    + 0.3 * (items["injury_severity"] == "minor") + 0.8 * (items["child_disclosure"] == "serious")
                    + 0.4 * (s.factors["domestic_violence"] and s.abuse_type == "psychological")
                    + 0.3 * s.vulnerability + 0.6 * protected)
