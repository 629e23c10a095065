"""Who is who: the person key of every child record, linked across agencies or within one agency.

``linked`` uses the Splink result ``linkage.person_links``; ``agency`` keys each record by its agency's
own ID only, which is what an agency sees without the platform (the "within-agency" comparison).
"""
from __future__ import annotations

from typing import Literal

import duckdb

from kodomo.contracts import all_contracts

Scope = Literal["linked", "agency"]
LINKS_TABLE = "linkage.person_links"
PERSON_KEYS = "_ml_person_keys"


def person_feeds() -> list[str]:
    return [c.feed for c in all_contracts().values() if c.person]


def _child_records_sql() -> str:
    parts = [f"select agency_id, local_child_id from valid.{feed}_versions" for feed in person_feeds()]
    return " union ".join(parts)


def create_person_keys(con: duckdb.DuckDBPyConnection, scope: Scope) -> str:
    """A temp table (agency_id, local_child_id, person_key) covering every child record of every feed.

    A record the linkage has not seen keeps a key of its own, so it is never merged with anyone.
    """
    own_key = "agency_id || '/' || local_child_id"
    if scope == "linked":
        key = f"coalesce(l.person_key, {own_key})"
        source = f"({_child_records_sql()}) r left join {LINKS_TABLE} l using (agency_id, local_child_id)"
    elif scope == "agency":
        key = own_key
        source = f"({_child_records_sql()}) r"
    else:
        raise ValueError(f"unknown person scope {scope!r}")
    con.execute(f"create or replace temp table {PERSON_KEYS} as "
                f"select agency_id, local_child_id, {key} as person_key from {source}")
    return PERSON_KEYS
