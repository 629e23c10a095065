"""The dbt sources file, generated from the feed contracts.

``dbt_project/models/staging/_sources.yml`` declares every ``valid.<feed>`` table (and the
``valid.<feed>_versions`` tables that the dbt project reads) with its columns, types,
descriptions and tests. Everything comes from ``kodomo.contracts``: no code list is written
twice. A test asserts that the committed file equals what this module renders.

    python -m kodomo.dbt_sources            # rewrite the file
    python -m kodomo.dbt_sources --check    # exit 1 if the file is out of date
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

from kodomo.contracts import LINEAGE_COLUMNS, Column, Contract, all_contracts
from kodomo.ingest.staging import duckdb_type

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


def project_digest(names: Iterable[str], project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A digest of the dbt project's files under ``names`` (files or folders), with their paths.

    What dbt's outputs (the manifest, compiled SQL) are made from: contents, not modification times, since a dbt
    command that began before a file changed writes an output newer than the file it does not reflect.
    """
    digest = hashlib.sha256()
    for name in names:
        path = project_dir / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(str(file.relative_to(project_dir)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()
SOURCES_PATH = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"


@cache
def project_var(name: str):
    """A variable of ``dbt_project.yml`` (``vars:``): the one place a rule the models and Python share is set."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"][name]
#: The routine immunization schedule, the one copy every rule reads (documented in seeds/_seeds.yml).
SCHEDULE_SEED = DBT_PROJECT_DIR / "seeds" / "immunization_schedule.csv"

#: Feeds whose version history the dbt project reads (point-in-time: when a report was substantiated,
#: when a checkup was missed even if it was made up later, what an intake's assessment said when first recorded).
VERSIONED_FEEDS = ("case_reports", "assessments", "checkups")

#: What each contract type means, for the column descriptions.
_TYPE_TEXT = {
    "id": "identifier, local to the delivering agency",
    "agency_id": "agency ID: a 6-digit municipality code, or C + prefecture + 2 digits for a child guidance centre",
    "agency_ref": "agency ID of an agency in agencies.csv",
    "municipality_code": "6-digit municipality code (全国地方公共団体コード) with a valid check digit",
    "prefecture_code": "2-digit prefecture code",
    "date": "date",
    "datetime": "timestamp, Japan Standard Time (a date without a time is 00:00)",
    "integer": "integer",
    "decimal": "number",
    "code": "code",
    "code_set": "one or more codes, sorted and joined by the separator",
    "name": "name in kanji, verbatim as delivered",
    "kana": "kana reading, folded to full-width katakana with one half-width space",
    "text": "free text, verbatim as delivered",
}
#: Contract types that carry personal data in a feed about children: they must not leave the staging layer.
_PERSONAL_TYPES = {"name", "kana", "text"}
#: Feeds that describe agencies, not children: their free text (an agency's name) is not personal data.
_REFERENCE_FEEDS = ("agencies",)

def _description(column: Column) -> str:
    parts = [_TYPE_TEXT[column.type]]
    if column.codes:
        parts.append("one of " + ", ".join(column.codes))
    if column.separator:
        parts.append(f"separator {column.separator!r}")
    if column.min is not None or column.max is not None:
        parts.append(f"range {column.min:g} to {column.max:g}")
    if column.birth_date:
        parts.append("the child's birth date (personal data)")
    parts.append("required" if column.required else "optional")
    return "; ".join(parts) + "."


def _column_tests(column: Column, with_tests: bool) -> list:
    if not with_tests:
        return []
    tests: list = []
    if column.required:
        tests.append("not_null")
    if column.type == "code":
        tests.append({"accepted_values": {"arguments": {"values": list(column.codes)}}})
    elif column.type == "code_set":
        tests.append({"accepted_code_set": {"arguments": {"values": list(column.codes),
                                                           "separator": column.separator}}})
    if column.min is not None and column.max is not None:
        tests.append({"value_between": {"arguments": {"min_value": column.min, "max_value": column.max}}})
    return tests


def _columns(contract: Contract, with_tests: bool) -> list[dict]:
    out = []
    for column in contract.columns:
        spec: dict = {"name": column.name, "data_type": duckdb_type(column.type).lower(),
                      "description": _description(column)}
        if contract.feed not in _REFERENCE_FEEDS and (column.type in _PERSONAL_TYPES or column.birth_date):
            spec["meta"] = {"personal_data": True}
        tests = _column_tests(column, with_tests)
        if tests:
            spec["data_tests"] = tests
        out.append(spec)
    for lineage in LINEAGE_COLUMNS:
        out.append({"name": lineage.name, "data_type": lineage.duckdb_type.lower(),
                    "description": f"Lineage: {lineage.description}."})
    return out


def _table(contract: Contract, versions: bool) -> dict:
    key = ", ".join(contract.key)
    if versions:
        name = f"{contract.feed}_versions"
        description = (f"{contract.title}: every distinct valid version of each record ({key}), for point-in-time "
                       "queries. Same columns as the latest table; validated by the same ingestion, so the tests "
                       "run on the latest table only.")
    else:
        name = contract.feed
        description = f"{contract.title}: valid records, the latest version per key ({key})."
    table: dict = {"name": name, "description": description, "meta": {"feed": contract.feed, "key": list(contract.key)}}
    if not versions:
        table["data_tests"] = [{"unique_combination": {"arguments": {"columns": list(contract.key)}}}]
    table["columns"] = _columns(contract, with_tests=not versions)
    return table


def sources() -> dict:
    tables = []
    for contract in all_contracts().values():
        tables.append(_table(contract, versions=False))
        if contract.feed in VERSIONED_FEEDS:
            tables.append(_table(contract, versions=True))
    return {
        "version": 2,
        "sources": [{
            "name": "valid",
            "schema": "valid",
            "description": "Validated feed tables written by the Dagster ingestion assets (source-feeds.md); "
                           "invalid rows are in quarantine and never reach them.",
            "tables": tables,
        }],
    }


def render() -> str:
    header = ("# Generated by kodomo/dbt_sources.py from data_contracts/: do not edit by hand.\n"
              "# Regenerate with: .venv/bin/python -m kodomo.dbt_sources\n")
    return header + yaml.safe_dump(sources(), sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = SOURCES_PATH.read_text(encoding="utf-8") if SOURCES_PATH.exists() else ""
        if current != text:
            print(f"{SOURCES_PATH} is out of date: run python -m kodomo.dbt_sources", file=sys.stderr)
            return 1
        return 0
    SOURCES_PATH.parent.mkdir(parents=True, exist_ok=True)
    SOURCES_PATH.write_text(text, encoding="utf-8")
    print(SOURCES_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
