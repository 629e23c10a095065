"""Great Expectations suites for the validated ("valid") tables, generated from the feed contracts.

Every code list, range, key and conditional rule comes from ``kodomo.contracts``; writing one
here would let the suites drift from what the ingestion enforces.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import AndCondition, Condition
from great_expectations.expectations.row_conditions import Column as ConditionColumn

from kodomo.contracts import LINEAGE_COLUMNS, Column, ConditionalRule, Contract, common, row_rules

#: Lineage columns the ingestion adds to every valid table.
METADATA_COLUMNS = tuple(c.name for c in LINEAGE_COLUMNS)

# Shapes that section 3 of the spec fixes per contract type. [0-9], not \d: Python's \d also
# matches full-width digits, which the ingestion must have normalised away.
_AGENCY_ID = r"^(?:[0-9]{6}|C[0-9]{4})$"
_FORMATS: dict[str, tuple[str, str | None]] = {
    # contract type: (pattern, quarantine rule that should have caught a mismatch)
    "municipality_code": (r"^[0-9]{6}$", "invalid_municipality_code"),
    "agency_id": (_AGENCY_ID, "invalid_agency_id"),
    "agency_ref": (_AGENCY_ID, "invalid_agency_id"),
    "prefecture_code": (r"^[0-9]{2}$", None),
}


def build_suite(contract: Contract) -> gx.ExpectationSuite:
    """The suite ``<feed>_valid`` that a valid table of ``contract`` must pass."""
    return gx.ExpectationSuite(
        name=f"{contract.feed}_valid",
        expectations=list(_suite_expectations(contract)),
        meta={"feed": contract.feed, "spec_version": common()["spec_version"], "generated_from": "data_contracts"},
    )


def suite_as_json(contract: Contract) -> dict:
    """The suite as a JSON-serialisable dict, for documentation and run artifacts."""
    return build_suite(contract).to_json_dict()


def code_set_pattern(column: Column) -> str:
    """A regex for one or more of the column's codes joined by its separator."""
    code = "(?:" + "|".join(re.escape(c) for c in column.codes) + ")"
    return f"^{code}(?:{re.escape(column.separator)}{code})*$"


def _suite_expectations(contract: Contract) -> Iterator[gxe.Expectation]:
    for column in contract.columns:
        yield from _column_expectations(column)
    for name in _dated_metadata_columns(contract):
        yield gxe.ExpectColumnValuesToNotBeNull(column=name)
    yield _key_expectation(contract.key)
    for rule in contract.rules:
        yield _conditional_expectation(rule)


def _dated_metadata_columns(contract: Contract) -> tuple[str, ...]:
    # The delivery date comes from a feed file's name; agencies.csv has none in its name.
    if contract.is_folder:
        return METADATA_COLUMNS
    return tuple(name for name in METADATA_COLUMNS if name != "_delivery_date")


def _column_expectations(column: Column) -> Iterator[gxe.Expectation]:
    name = column.name
    yield gxe.ExpectColumnToExist(column=name)
    if column.required:
        yield gxe.ExpectColumnValuesToNotBeNull(column=name, meta=_quarantine_rule("required_missing"))
    # Value checks below skip nulls, so an optional column is only checked where it has a value.
    if column.type == "code":
        yield gxe.ExpectColumnValuesToBeInSet(
            column=name, value_set=list(column.codes), meta=_quarantine_rule("invalid_code")
        )
    elif column.type == "code_set":
        yield gxe.ExpectColumnValuesToMatchRegex(
            column=name, regex=code_set_pattern(column), meta=_quarantine_rule("invalid_code")
        )
    elif column.type in _FORMATS:
        pattern, rule = _FORMATS[column.type]
        yield gxe.ExpectColumnValuesToMatchRegex(column=name, regex=pattern, meta=_quarantine_rule(rule))
    if column.min is not None or column.max is not None:
        yield gxe.ExpectColumnValuesToBeBetween(
            column=name, min_value=column.min, max_value=column.max, meta=_quarantine_rule("out_of_range")
        )


def _key_expectation(key: tuple[str, ...]) -> gxe.Expectation:
    # Versioning leaves one row per key. The compound expectation refuses a single column.
    if len(key) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=key[0])
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key))


def _conditional_expectation(rule: ConditionalRule) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(
        column=rule.required,
        row_condition=_all_equal(rule.when),
        meta=_quarantine_rule("conditional_required"),
    )


def _all_equal(when: Mapping[str, str]) -> Condition:
    conditions = [ConditionColumn(name) == code for name, code in when.items()]
    return conditions[0] if len(conditions) == 1 else AndCondition(conditions=conditions)


def _quarantine_rule(rule: str | None) -> dict:
    """Meta naming the quarantine rule that should have kept a failing row out of the valid table."""
    if rule is None:
        return {}
    if rule not in row_rules():
        raise KeyError(f"{rule!r} is not a row rule of data_contracts/common.yml")
    return {"quarantine_rule": rule}
