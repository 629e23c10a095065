"""What is shown beside an intake's probability: missing information and its what-ifs, the official checklist.

Pure functions of a one-row features frame (a row of ``marts.intake_features``, or of the online features) and the
scoring model, shared by the intake page and ``kodomo score``.
"""
from __future__ import annotations

import pandas as pd

from ml.checklist import answer_questions, verdict_score
from ml.features import assessment_items, design_matrix, feature_values
from ml.model import RiskModel

UNKNOWN = "unknown"
WHAT_IF_COLUMNS = ["item", "now", "value", "probability", "change"]
#: Items that are the child's own words (what the child says happened, that the child asks to be protected).
CHILD_ACCOUNT_ITEMS = ("child_disclosure", "child_wants_protection")
#: Age (years, at receipt) below which a child cannot give an account: finding one out is no what-if to suggest
#: for an infant or toddler. Three is when most children can say what happened in simple sentences; the
#: assessment still records the items (unknown), the what-ifs leave them out.
OWN_ACCOUNT_MIN_AGE = 3.0


def _is_missing(value) -> bool:
    return pd.isna(value) or value == UNKNOWN


def missing_items(intake: pd.DataFrame) -> list[str]:
    """Assessment items recorded as unknown, or absent (no assessment yet), in the contract's order."""
    row = intake.iloc[0]
    return [item.name for item in assessment_items() if _is_missing(row[item.name])]


def applies_at_age(item: str, age_years: float | None) -> bool:
    """Whether an item can be found out for a child of that age (an unknown age: every item can)."""
    if item in CHILD_ACCOUNT_ITEMS and age_years is not None and not pd.isna(age_years):
        return age_years >= OWN_ACCOUNT_MIN_AGE
    return True


def _found_out_values(item: str) -> tuple[str, ...]:
    """The values a missing item could be found to have: yes / no, or the item's own scale."""
    codes = next(c.codes for c in assessment_items() if c.name == item)
    return tuple(code for code in codes if code != UNKNOWN)


def found_out(intake: pd.DataFrame, item: str, value: str) -> pd.DataFrame:
    """The intake as if ``item`` had been found to be ``value``, everything else as it is.

    An assessment records every item, so finding one out means an assessment exists: an intake without one
    gets an assessment in which only this item is known and the others are ``unknown``.
    """
    changed = intake.copy()
    if not changed["has_assessment"].iloc[0]:
        changed["has_assessment"] = 1
        for other in (c.name for c in assessment_items()):
            changed[other] = changed[other].fillna(UNKNOWN)
    changed[item] = value
    return changed


def probabilities(model: RiskModel, frame: pd.DataFrame) -> pd.Series:
    """The model's calibrated probability (the what-ifs need no reasons, so no SHAP values are computed)."""
    return pd.Series(model.predict_proba(design_matrix(frame))[:, 1], index=frame.index)


def what_ifs(model: RiskModel, intake: pd.DataFrame) -> pd.DataFrame:
    """For each missing item that applies at the child's age (``applies_at_age``) and each value it could have:
    the rescored probability and its change."""
    age = intake["age_years"].iloc[0]
    cases = [(item, value) for item in missing_items(intake) if applies_at_age(item, age)
             for value in _found_out_values(item)]
    if not cases:
        return pd.DataFrame(columns=WHAT_IF_COLUMNS)
    frame = pd.concat([found_out(intake, item, value) for item, value in cases], ignore_index=True)
    rescored = probabilities(model, frame)
    current = float(probabilities(model, intake).iloc[0])
    recorded = feature_values(intake).iloc[0]
    now = [recorded[item] for item, _ in cases]
    return pd.DataFrame({
        "item": [item for item, _ in cases], "now": now, "value": [value for _, value in cases],
        "probability": rescored.to_numpy(), "change": rescored.to_numpy() - current,
    })


def checklist(intake: pd.DataFrame) -> tuple[pd.Series, int]:
    """The official sheet's eight answers (q1..q8, True when answered yes) and its verdict score (0-3)."""
    questions = answer_questions(intake)
    return questions.iloc[0], int(verdict_score(questions).iloc[0])
