"""Feed contracts: the one source of truth for columns, types, code lists, keys and rules.

The YAML files in ``data_contracts/`` are read here and nowhere else; parsing, quarantine,
the Great Expectations suites and the dbt sources are all derived from these objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import yaml

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "data_contracts"

#: Feed names in load order: agencies first, because other feeds reference it.
FEEDS = ("agencies", "case_reports", "assessments", "checkups", "immunizations", "resident_moves", "alerts")
PERSON_COLUMNS = ("local_child_id", "child_name", "child_kana", "sex", "birth_date")


@dataclass(frozen=True)
class LineageColumn:
    name: str
    duckdb_type: str
    description: str


#: Lineage the ingestion adds to every raw and valid row: where and when the row was delivered. The ingestion,
#: the warehouse types, the GX suites and the dbt sources all read this one list.
LINEAGE_COLUMNS = (
    LineageColumn("_file", "VARCHAR", "landing file the version was read from (relative to the landing)"),
    LineageColumn("_line", "INTEGER", "line of the record in that file (1 = header)"),
    LineageColumn("_delivery_date", "DATE", "delivery date from the file name (empty for agencies.csv)"),
    LineageColumn("_seq", "INTEGER", "delivery sequence number from the file name"),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    codes: tuple[str, ...] = ()
    separator: str | None = None
    min: float | None = None
    max: float | None = None
    future_ok: bool = False
    birth_date: bool = False
    item: bool = False

    @property
    def is_temporal(self) -> bool:
        return self.type in ("date", "datetime")


@dataclass(frozen=True)
class ConditionalRule:
    """``required`` must be present when every column in ``when`` has the given code."""

    required: str
    when: dict[str, str]


@dataclass(frozen=True)
class Contract:
    feed: str
    title: str
    path: str
    key: tuple[str, ...]
    person: bool
    columns: tuple[Column, ...]
    rules: tuple[ConditionalRule, ...] = field(default_factory=tuple)
    references: dict[str, dict] = field(default_factory=dict)

    @cached_property  # asked for per file and per chunk by the ingestion
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.feed} has no column {name!r}")

    @property
    def is_folder(self) -> bool:
        return not self.path.endswith(".csv")


def _read_yaml(name: str) -> dict:
    with open(CONTRACTS_DIR / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


@cache
def common() -> dict:
    return _read_yaml("common.yml")


def code_lists() -> dict[str, tuple[str, ...]]:
    return {k: tuple(_code_text(v) for v in vals) for k, vals in common()["code_lists"].items()}


def row_rules() -> dict[str, str]:
    """Quarantine rules for rows, in reporting order (the first violated is the primary rule)."""
    return dict(common()["row_rules"])


def file_rules() -> dict[str, str]:
    return dict(common()["file_rules"])


def _column(spec: dict) -> Column:
    codes = spec.get("codes", ())
    if isinstance(codes, str):
        codes = code_lists()[codes]
    codes = tuple(_code_text(c) for c in codes)
    return Column(
        name=spec["name"],
        type=spec["type"],
        required=bool(spec.get("required", False)),
        codes=codes,
        separator=spec.get("separator"),
        min=spec.get("min"),
        max=spec.get("max"),
        future_ok=bool(spec.get("future_ok", False)),
        birth_date=bool(spec.get("birth_date", False)),
        item=bool(spec.get("item", False)),
    )


def _code_text(value) -> str:
    # PyYAML reads bare yes/no as YAML 1.1 booleans; the contracts mean the codes.
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value).lower()


@cache
def contract(feed: str) -> Contract:
    spec = _read_yaml(f"{feed}.yml")
    shared = common()
    columns: list[dict] = []
    if spec["feed"] != "agencies":
        columns += shared["feed_columns"]
    if spec.get("person"):
        columns += shared["person_columns"]
    columns += spec["columns"]
    rules = tuple(
        ConditionalRule(required=r["required"], when={k: _code_text(v) for k, v in r["when"].items()})
        for r in spec.get("rules", ())
    )
    references = {c["name"]: c["references"] for c in spec["columns"] if "references" in c}
    return Contract(
        feed=spec["feed"],
        title=spec["title"],
        path=spec["path"],
        key=tuple(spec["key"]),
        person=bool(spec.get("person", False)),
        columns=tuple(_column(c) for c in columns),
        rules=rules,
        references=references,
    )


def all_contracts() -> dict[str, Contract]:
    return {feed: contract(feed) for feed in FEEDS}


def person_feeds() -> tuple[str, ...]:
    """The feeds whose rows describe a child (``person: true``), in load order."""
    return tuple(c.feed for c in all_contracts().values() if c.person)
