"""Baseline: the official urgency assessment sheet (一時保護決定に向けてのアセスメントシート), municipal version.

Its eight questions, answered from the intake's assessment items and the history known at receipt.
Only a recorded ``yes`` (or the named code) answers a question; ``unknown`` does not, as on the paper
sheet, where a worker ticks only what was confirmed.

| question (japan-facts.md) | answered yes when |
|---|---|
| 1 the child or a caregiver asks for protection | child_wants_protection or caregiver_requests_help |
| 2 the situation is urgent (sexual abuse strongly suspected, "I might kill him") | sexual_abuse_suspected or caregiver_threatens_harm |
| 3 serious harm has already happened | injury_severity = severe |
| 4 serious harm is likely (infant or frail child; blows to head or face, strangling) | injury_head_face_abdomen, or child_disclosure = serious, or an injury to a child under 3 or with a disability |
| 5 recurrence is likely (old and new injuries, prior reports or protection, caregiver denies) | injury_old_and_new, or caregiver_explanation_inconsistent, or a prior report in 2 years or a prior protection |
| 6 the child shows effects | child_disclosure mild or serious, or growth_concern |
| 7 caregiver risk factors | caregiver_substance_abuse, caregiver_mental_illness or caregiver_refuses_contact |
| 8 household risk factors | domestic_violence, new_partner_in_household, single_parent, economic_hardship, social_isolation or sibling_reported |

Rule: (1 and 2) or 3 → consider emergency protection; 4 or 5 → consider protection before the next
incident; otherwise intensive support. The verdicts become an ordered score: emergency protection 3,
protection before the next incident 2, intensive support (some question answered, the rule not met) 1,
no question answered 0.
"""
from __future__ import annotations

import pandas as pd

EMERGENCY_PROTECTION = 3
PROTECTION_BEFORE_NEXT_INCIDENT = 2
INTENSIVE_SUPPORT = 1
NO_CONCERN = 0
INFANT_AGE_YEARS = 3


def _yes(features: pd.DataFrame, *items: str) -> pd.Series:
    answered = pd.Series(False, index=features.index)
    for item in items:
        answered |= features[item].eq("yes").fillna(False).astype(bool)
    return answered


def _is(features: pd.DataFrame, item: str, *codes: str) -> pd.Series:
    return features[item].isin(codes).fillna(False).astype(bool)


def answer_questions(features: pd.DataFrame) -> pd.DataFrame:
    """The eight questions of the sheet (columns q1..q8), True where answered yes."""
    frail = (features["age_years"] < INFANT_AGE_YEARS) | _yes(features, "child_disability")
    return pd.DataFrame({
        "q1": _yes(features, "child_wants_protection", "caregiver_requests_help"),
        "q2": _yes(features, "sexual_abuse_suspected", "caregiver_threatens_harm"),
        "q3": _is(features, "injury_severity", "severe"),
        "q4": _yes(features, "injury_head_face_abdomen") | _is(features, "child_disclosure", "serious")
              | (_yes(features, "injury_present") & frail),
        "q5": _yes(features, "injury_old_and_new", "caregiver_explanation_inconsistent")
              | (features["prior_reports_2y"] > 0) | (features["prior_protections"] > 0),
        "q6": _is(features, "child_disclosure", "mild", "serious") | _yes(features, "growth_concern"),
        "q7": _yes(features, "caregiver_substance_abuse", "caregiver_mental_illness", "caregiver_refuses_contact"),
        "q8": _yes(features, "domestic_violence", "new_partner_in_household", "single_parent", "economic_hardship",
                   "social_isolation", "sibling_reported"),
    }, index=features.index)


def verdict_score(questions: pd.DataFrame) -> pd.Series:
    """The sheet's rule as an ordered score (3 emergency protection … 0 no concern)."""
    score = pd.Series(NO_CONCERN, index=questions.index, dtype="int64")
    score[questions.any(axis=1)] = INTENSIVE_SUPPORT
    score[questions["q4"] | questions["q5"]] = PROTECTION_BEFORE_NEXT_INCIDENT
    score[(questions["q1"] & questions["q2"]) | questions["q3"]] = EMERGENCY_PROTECTION
    return score


def checklist_score(features: pd.DataFrame) -> pd.Series:
    return verdict_score(answer_questions(features))
