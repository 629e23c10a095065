"""A child named by one of its records (the anchor: agency_id, local_child_id) as well as by its person key.

A run may give a child another person key (clusters merge when a supervisor decides a pair, or new records join);
the records themselves keep their IDs. What people keep about a child in the store (case records, notices) stores
an anchor with the key, and is read or re-keyed under the key the anchor has in the published linkage.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import duckdb

Anchor = tuple[str, str]


def anchor_of(con: duckdb.DuckDBPyConnection, person_key: str,
              preference: Callable[[str], tuple] = lambda agency_id: ()) -> Anchor | tuple[None, None]:
    """One record of the child in the linkage: the first by ``preference`` of its agency, then by ID."""
    records = con.execute("select agency_id, local_child_id from linkage.person_links where person_key = ?",
                          [person_key]).fetchall()
    if not records:
        return None, None
    return min(records, key=lambda record: (*preference(record[0]), record))


def current_keys(con: duckdb.DuckDBPyConnection, anchors: Iterable[Anchor | tuple[None, None]]) -> dict[Anchor, str]:
    """The person key each anchor record has in the published linkage (records it does not know are left out)."""
    wanted = sorted({a for a in anchors if a[0] is not None})
    if not wanted:
        return {}
    rows = con.execute("""
        select links.agency_id, links.local_child_id, links.person_key
        from linkage.person_links as links
        inner join (select unnest($agencies) as agency_id, unnest($locals) as local_child_id) as wanted
            using (agency_id, local_child_id)""",
                       {"agencies": [a for a, _ in wanted], "locals": [c for _, c in wanted]}).fetchall()
    return {(agency, local): key for agency, local, key in rows}
