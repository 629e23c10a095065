"""The model's input: the features of each intake as the dbt mart ``marts.intake_features`` computes them, and their
encoding into the design matrix.

The mart (macro ``intake_features`` of dbt_project/) holds, per intake, as known at its receipt
(``received_at``): the intake's own assessment (the items of the assessments contract, ``unknown`` kept as a
value) and what the report said when first recorded (route, abuse types); the child's age at receipt; the
child's history across every agency (``marts.intake_features_within_agency``: within the intake's agency
only). Intakes not in the warehouse yet get the same row from ``ml.online_features``.
"""
from __future__ import annotations

from functools import cache

import duckdb
import numpy as np
import pandas as pd

from kodomo.contracts import Column, contract

INTAKE_FEATURES = "marts.intake_features"
INTAKE_FEATURES_WITHIN_AGENCY = "marts.intake_features_within_agency"
KEY = ["agency_id", "report_id"]
HISTORY_FEATURES = (
    "prior_reports_1y", "prior_reports_2y", "prior_reports_total", "prior_substantiated", "prior_protections",
    "prior_severe_harm", "prior_agencies_2y", "moves_2y", "moves_total", "missed_checkups",
    "overdue_immunizations", "open_alerts",
)
NUMERIC_FEATURES = ("age_years", "has_assessment", *HISTORY_FEATURES)


@cache
def assessment_items() -> tuple[Column, ...]:
    """The assessment items, as the contract marks them (``item: true``)."""
    return tuple(c for c in contract("assessments").columns if c.item)


def route_codes() -> tuple[str, ...]:
    return contract("case_reports").column("route").codes


def abuse_type_codes() -> tuple[str, ...]:
    return contract("case_reports").column("abuse_types").codes


def read_features(con: duckdb.DuckDBPyConnection, within_agency: bool = False) -> pd.DataFrame:
    """Every intake's row of the mart (history linked across agencies, or within the intake's agency), oldest first."""
    table = INTAKE_FEATURES_WITHIN_AGENCY if within_agency else INTAKE_FEATURES
    return con.execute(f"select * from {table} order by received_at, agency_id, report_id").df()


def feature_names() -> list[str]:
    """The model's input columns, in a fixed order derived from the contracts (never from the data)."""
    names = list(NUMERIC_FEATURES)
    names += [f"abuse_{t}" for t in abuse_type_codes()]
    names += [f"route={code}" for code in route_codes()]
    names += [f"{c.name}={code}" for c in assessment_items() for code in c.codes]
    return names


@cache
def _feature_index() -> pd.Index:
    # Built once: the columns of design_matrix's blocks are in exactly this order.
    return pd.Index(feature_names())


def feature_groups() -> dict[str, str]:
    """Model column -> the input it encodes (a one-hot column belongs to its item), for grouped explanations."""
    groups = {name: name for name in feature_names()}
    for name in groups:
        if "=" in name:
            groups[name] = name.split("=", 1)[0]
    return groups


def _categorical_inputs() -> list[tuple[str, tuple[str, ...]]]:
    return [("route", route_codes())] + [(c.name, c.codes) for c in assessment_items()]


def design_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The model input: numeric columns as they are, categorical ones one-hot (a missing item is all zeros).

    Built with numpy in a few bulk operations: scoring one intake must stay within milliseconds. The matrix is
    filled in place, one input at a time: a Tokyo training set's blocks, stacked, and its items as Python strings
    all at once took 2 GiB more than the matrix itself.
    """
    numeric = [*NUMERIC_FEATURES, *(f"abuse_{t}" for t in abuse_type_codes())]
    matrix = np.empty((len(features), len(_feature_index())), dtype=np.float64)
    matrix[:, :len(numeric)] = features[numeric].to_numpy(dtype=np.float64)
    start = len(numeric)
    for name, codes in _categorical_inputs():
        values = features[name].to_numpy(dtype=object)
        matrix[:, start:start + len(codes)] = values[:, None] == np.array(codes, dtype=object)[None, :]
        start += len(codes)
    return pd.DataFrame(matrix, columns=_feature_index(), index=features.index, copy=False)


@cache
def _group_index() -> pd.Index:
    return pd.Index(sorted(set(feature_groups().values())))


def feature_values(features: pd.DataFrame) -> pd.DataFrame:
    """The human-readable value of each feature group (an item's code, a count), for explanations."""
    values = features[_group_index()].to_numpy(dtype=object)
    values[pd.isna(values)] = "missing"
    return pd.DataFrame(values, columns=_group_index(), index=features.index, dtype=object)


def age_band(age_years: pd.Series) -> pd.Series:
    """The age bands of the national statistics: 0-2, 3 to school age, elementary school, older."""
    bands = pd.cut(age_years, bins=[-np.inf, 3, 7, 13, np.inf], right=False, labels=["0-2", "3-6", "7-12", "13+"])
    return bands.astype("string")
