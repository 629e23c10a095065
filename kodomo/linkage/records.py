"""Person records for linkage: one row per distinct person-field variant of a child record.

A child record is a node ``(agency_id, local_child_id)`` seen in a valid row; its variants are the
distinct (name, kana, sex, birth date) it was delivered with across the person-level feeds, superseded
versions included (a report updated after a marriage carries the new surname, its first version the
old one: both are this child). Each variant carries
the node's place history: the agency itself, report addresses, the two ends of its moves and the
destinations of its moved notices, so that a move-out at A and a move-in at B can meet.
"""
from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from kodomo.contracts import PERSON_COLUMNS, person_feeds
from kodomo.linkage.normalise import NameLexicon, one_byte_kana
from kodomo.parsing.text import fold_kana, fold_kanji

NODE_SEPARATOR = "|"

# Places each feed tells about a child record, beside the delivering agency itself.
_PLACE_SQL = {
    "case_reports": "select agency_id, local_child_id, address_municipality_code as place from valid.case_reports",
    "resident_moves": """
        select agency_id, local_child_id, from_municipality_code as place from valid.resident_moves
        union all
        select agency_id, local_child_id, to_municipality_code from valid.resident_moves""",
    "alerts": """select agency_id, local_child_id, destination_agency_id from valid.alerts
                 where destination_agency_id is not null""",
}
# A move seen from both ends: the origin's move_out and the destination's move_in share "from>to";
# a moved notice from agency A to destination D reads as a move A>D.
_MOVE_SQL = {
    "resident_moves": """select agency_id, local_child_id,
                                from_municipality_code || '>' || to_municipality_code as move_key
                         from valid.resident_moves""",
    "alerts": """select agency_id, local_child_id, agency_id || '>' || destination_agency_id
                 from valid.alerts where alert_type = 'moved' and destination_agency_id is not null""",
}


def existing_tables(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables where table_schema = ?", [schema])
    return {r[0] for r in rows.fetchall()}


def _union(selects: list[str]) -> str:
    # A feed never delivered has no table; the empty select gives the union its shape all the same.
    return "\nunion all\n".join(["select agency_id, local_child_id, agency_id from nodes where false", *selects])


def read_person_variants(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Distinct person-field variants per node, with the node's places, moves and prefecture."""
    tables = existing_tables(con, "valid")
    feeds = [f for f in person_feeds() if f in tables]
    if not feeds:
        return pd.DataFrame(columns=["agency_id", *PERSON_COLUMNS, "prefecture_code", "places", "move_keys"])
    columns = ", ".join(["agency_id", *PERSON_COLUMNS])
    latest = "\nunion\n".join(f"select {columns} from valid.{feed}" for feed in feeds)
    superseded = "\nunion\n".join(f"select {columns} from valid.{feed}_versions"
                                   for feed in feeds if f"{feed}_versions" in tables)
    places = _union([sql for feed, sql in _PLACE_SQL.items() if feed in feeds])
    moves = _union([sql for feed, sql in _MOVE_SQL.items() if feed in feeds])
    return con.sql(f"""
        with latest as ({latest}),
        nodes as (select distinct agency_id, local_child_id from latest),
        variants as (
            select * from latest
            union select * from ({superseded or "select * from latest where false"})
                  semi join nodes using (agency_id, local_child_id)),
        places(agency_id, local_child_id, place) as (
            select agency_id, local_child_id, agency_id from nodes
            union select * from ({places})),
        moves(agency_id, local_child_id, move_key) as (select distinct * from ({moves})),
        place_lists as (
            select agency_id, local_child_id, list(distinct place order by place) as places
            from places group by all),
        move_lists as (
            select agency_id, local_child_id, list(distinct move_key order by move_key) as move_keys
            from moves group by all)
        select v.agency_id, v.local_child_id, v.child_name, v.child_kana, v.sex, v.birth_date,
               a.prefecture_code, p.places, coalesce(m.move_keys, []::varchar[]) as move_keys
        from variants v
        left join valid.agencies a using (agency_id)
        left join place_lists p using (agency_id, local_child_id)
        left join move_lists m using (agency_id, local_child_id)
        order by v.agency_id, v.local_child_id, v.child_name, v.child_kana, v.sex, v.birth_date
    """).to_arrow_table().to_pandas(date_as_object=False, types_mapper=_lists_in_arrow)


def _lists_in_arrow(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    # The place and move lists stay in Arrow: as Python lists they took 40% of a Tokyo linkage's records, and
    # Splink reads them as Arrow anyway (no copy then).
    return pd.ArrowDtype(arrow_type) if pa.types.is_list(arrow_type) else None


def equal_pairs(records: pd.DataFrame, columns: list[str], across_agencies: bool = False) -> pd.DataFrame:
    """Pairs of child records (``node_l < node_r``) that have variants equal on ``columns``."""
    keyed = records[["node_id", "agency_id", *columns]].dropna().drop_duplicates()
    pairs = keyed.merge(keyed, on=columns, suffixes=("_l", "_r"))
    keep = pairs["node_id_l"] < pairs["node_id_r"]
    if across_agencies:
        keep &= pairs["agency_id_l"] != pairs["agency_id_r"]
    pairs = pairs.loc[keep, ["node_id_l", "node_id_r"]].drop_duplicates()
    return pairs.rename(columns={"node_id_l": "node_l", "node_id_r": "node_r"}).reset_index(drop=True)


def node_ids(frame: pd.DataFrame) -> pd.Series:
    return frame["agency_id"] + NODE_SEPARATOR + frame["local_child_id"]


def with_comparison_columns(variants: pd.DataFrame, lexicon: NameLexicon | None = None) -> pd.DataFrame:
    """Add the folded, split comparison columns Splink reads; the raw name and kana are kept beside.

    Names without a space are cut with ``lexicon``, by default the one learned from these variants' own names
    (a new record is cut with the lexicon of the warehouse's records instead, as the batch cut them)."""
    names = variants[["child_name", "child_kana"]].drop_duplicates().reset_index(drop=True)
    if lexicon is None:
        lexicon = NameLexicon.from_names(zip(names["child_name"], names["child_kana"]))
    parts = pd.DataFrame([lexicon.split(name, kana) for name, kana in zip(names["child_name"], names["child_kana"])],
                         columns=["surname", "given", "surname_kana", "given_kana"])
    names = pd.concat([names, parts], axis=1)
    names["full_name"] = names["child_name"].map(fold_kanji)
    names["full_kana"] = names["child_kana"].map(lambda kana: fold_kana(kana).replace(" ", ""))
    for part in ("surname_kana", "given_kana"):
        names[f"{part}_ascii"] = names[part].map(one_byte_kana, na_action="ignore")
    records = variants.merge(names, on=["child_name", "child_kana"], how="left")
    records.insert(0, "unique_id", range(len(records)))
    records.insert(1, "node_id", node_ids(records))
    records["sex"] = records["sex"].where(records["sex"] != "9")  # unknown sex is no evidence
    birth = pd.to_datetime(records["birth_date"])
    records["birth_date"] = birth.dt.strftime("%Y-%m-%d")
    records["birth_year"] = birth.dt.year.astype("int32")
    records["birth_month"] = birth.dt.strftime("%Y-%m")
    records["birth_day_month_set"] = day_month_set(birth)
    return records


def day_month_set(birth: pd.Series) -> pd.Series:
    """Year with month and day in either order: a date and its day/month swap share it."""
    month, day = birth.dt.month, birth.dt.day
    low, high = month.where(month <= day, day), day.where(month <= day, month)
    return birth.dt.year.astype(str) + "-" + low.astype(str).str.zfill(2) + "-" + high.astype(str).str.zfill(2)
