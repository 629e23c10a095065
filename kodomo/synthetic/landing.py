"""The landing's feed files: render each feed's rows in the agencies' habits, corrupt a few rows,
plan the file accidents, and write everything down (returning what the truth needs)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.contracts import Contract, contract
from kodomo.synthetic.corrupt import CORRECTED_SHARE, INVALID_SHARE, Corrupter
from kodomo.synthetic.feeds import delivers
from kodomo.synthetic.geography import Geography
from kodomo.synthetic.habits import Habits
from kodomo.synthetic.people import People
from kodomo.synthetic.population import World
from kodomo.synthetic.render import render_feed
from kodomo.synthetic.truth import FeedOutput
from kodomo.synthetic.writer import FeedWriter, FileIncidents, agency_layout

_DUPLICATE_SHARE = 0.003
_COPIED_FILE_SHARE = 0.02
# Which feed suffers which whole-file accident (each file is re-sent correctly right after).
_BROKEN_FILES = {"checkups": "missing_required_column", "alerts": "missing_required_column",
                 "immunizations": "undecodable", "case_reports": "empty_file"}
_BAD_NAME_FEED = "resident_moves"
_RE_EXPORT_FEED = "assessments"


def write_agencies(out: Path, geography: Geography) -> None:
    columns = contract("agencies").column_names
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for a in geography.agencies:
        writer.writerow([getattr(a, c) for c in columns])
    (out / contract("agencies").path).write_bytes(buffer.getvalue().encode("utf-8"))


def write_feed(out: Path, feed: str, rows: pd.DataFrame, people: People, world: World, habits: list[Habits],
               deliveries: np.ndarray, agencies: list[int], rng: np.random.Generator) -> FeedOutput:
    """Write every file of one feed from ``agencies``; ``rows`` are their delivered rows (semantic values)."""
    c = contract(feed)
    geography = world.geography
    cells = render_feed(c, rows, people if c.person else None, world, habits)
    birth, local_id = _as_filed(c, rows, people, world)
    corrupter = Corrupter(c, habits, list(geography.agency_ids()), list(geography.place_code[geography.outside_places]),
                          rng)
    agency = rows["_agency"].to_numpy()
    n_invalid = min(len(rows) // 4, max(round(INVALID_SHARE * len(rows)), 2 * len(corrupter.rules)))
    delivery = deliveries[agency, rows["_delivery"].to_numpy()]
    invalid, rules, originals = corrupter.corrupt(cells, agency, birth, delivery, n_invalid)
    meta = _meta(c, rows, local_id)
    meta.loc[invalid, "_rule"] = rules
    # Some rejected rows are re-sent corrected: the valid original text, as its own later file.
    corrected = rng.random(len(invalid)) < CORRECTED_SHARE
    cells = {name: np.concatenate([values, originals[name][corrected]]) for name, values in cells.items()}
    fixes = meta.iloc[invalid[corrected]].assign(_rule="", _correction=True)
    table = pd.concat([meta, fixes], ignore_index=True)
    table["_duplicate"] = (~table["_correction"] & (table["_rule"] != "malformed_row")
                           & (rng.random(len(table)) < _DUPLICATE_SHARE))
    delivering = [a for a in agencies if delivers(geography.agencies[a].agency_type, feed)]
    layouts = {a: agency_layout(c, habits[a], rng) for a in delivering}
    table["_content"] = _contents(table, cells, layouts)
    incidents = _plan_incidents(feed, table, habits, rng)
    writer = FeedWriter(out, c, table, cells, layouts, habits, list(geography.agency_ids()), deliveries, rng)
    for a in delivering:
        writer.write_agency(a, incidents)
    return FeedOutput(table=table, cells=cells, files=writer.written)


def _as_filed(c: Contract, rows: pd.DataFrame, people: People, world: World) -> tuple[np.ndarray, np.ndarray]:
    """(birth day as the agency typed it, local child id) per row; zeros and blanks without person fields."""
    if not c.person:
        return np.zeros(len(rows), dtype=np.int64), np.full(len(rows), "", dtype=object)
    pair, _ = people.lookup(rows["_agency"].to_numpy(), rows["_child"].to_numpy(), rows["_updated"].to_numpy(), world)
    return people.pairs["birth"].to_numpy()[pair], people.pairs["local_child_id"].to_numpy()[pair]


def _meta(c: Contract, rows: pd.DataFrame, local_id: np.ndarray) -> pd.DataFrame:
    """What the truth needs to know about each row besides its text."""
    meta = pd.DataFrame({
        "_agency": rows["_agency"].to_numpy(), "_delivery": rows["_delivery"].to_numpy(),
        "_child": rows["_child"].to_numpy(), "_entity": rows["_entity"].to_numpy(),
        "_updated": rows["_updated"].to_numpy(), "_rule": "", "_local_child_id": local_id,
        "_key": _keys(c, rows, local_id), "_correction": False,
    })
    if c.feed == "case_reports":
        meta["_report_id"] = rows["report_id"].to_numpy()
        meta["_received"] = rows["received_at"].to_numpy().astype(np.int64)
        meta["_qualifies"] = ((rows["substantiated"] == "yes") | (rows["severe_harm"] == "yes")).to_numpy()
    return meta


def _keys(c: Contract, rows: pd.DataFrame, local_id: np.ndarray) -> np.ndarray:
    """The normalised record key of every row (agency as its index), numbered: equal keys, equal numbers."""
    parts = {}
    for name in c.key:
        if name == "agency_id":
            parts[name] = rows["_agency"].to_numpy()
        elif name == "local_child_id":
            parts[name] = local_id
        elif c.column(name).type == "integer":
            parts[name] = rows[name].to_numpy().astype(np.int64)
        else:
            parts[name] = rows[name].to_numpy()
    return pd.DataFrame(parts).groupby(list(parts), sort=False, dropna=False).ngroup().to_numpy()


def _contents(table: pd.DataFrame, cells: dict[str, np.ndarray], layouts) -> np.ndarray:
    """What identifies an invalid row: its raw text per contract column the file has."""
    content = np.full(len(table), "", dtype=object)
    rule = table["_rule"].to_numpy()
    agency = table["_agency"].to_numpy()
    for i in np.flatnonzero(rule != ""):
        layout = layouts[agency[i]]
        present = sorted(col for col in layout.columns if col not in layout.extras)
        content[i] = "\x1f".join(f"{col}={cells[col][i]}" for col in present) + (
            "\x1emalformed" if rule[i] == "malformed_row" else "")
    return content


def _plan_incidents(feed: str, table: pd.DataFrame, habits: list[Habits], rng: np.random.Generator) -> FileIncidents:
    regular = table[~table["_correction"]]
    sizes = regular.groupby(["_agency", "_delivery"]).size()
    keys = list(sizes.index)
    def pick(pool: list) -> tuple[int, int]:
        return pool[int(rng.integers(len(pool)))]

    incidents = FileIncidents()
    n_copies = max(1, round(_COPIED_FILE_SHARE * len(keys)))
    incidents.copies = {keys[i] for i in rng.choice(len(keys), size=min(n_copies, len(keys)), replace=False)}
    free = [k for k in keys if k not in incidents.copies]
    if not free:  # a group of agencies with (almost) nothing to deliver in this feed
        return incidents
    if feed in _BROKEN_FILES:
        # One of the biggest files: in UTF-16 its many kana make it certainly undecodable as CP932.
        big = sorted(free, key=lambda k: (-sizes[k], k))[: max(1, len(free) // 20)]
        incidents.broken = {pick(big): _BROKEN_FILES[feed]}
    if feed == _BAD_NAME_FEED:
        incidents.bad_name = {pick(free)}
    if feed == _RE_EXPORT_FEED:
        # A CP932 file holding an invalid row: re-exported as UTF-8 with another column order, the row
        # must still count once.
        invalid = regular[(regular["_rule"] != "") & (regular["_rule"] != "malformed_row")]
        malformed = set(map(tuple, regular.loc[regular["_rule"] == "malformed_row", ["_agency", "_delivery"]].values))
        candidates = sorted({(a, d) for a, d in invalid[["_agency", "_delivery"]].itertuples(index=False)
                             if habits[a].encoding == "cp932" and (a, d) not in malformed and (a, d) in free})
        incidents.re_export = {pick(candidates or free)}
    return incidents
