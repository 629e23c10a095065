"""How much of each kind of mess went into the landing (``mess.json``).

Each group of agencies counts what it wrote, feed by feed (``feed_counts``); ``assemble`` adds the
groups up and counts what belongs to the whole world.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kodomo.contracts import FEEDS, Contract, contract
from kodomo.synthetic.habits import Habits
from kodomo.synthetic.population import FOREVER, World
from kodomo.synthetic.truth import FeedOutput


def row_counts(table: pd.DataFrame, rows: pd.DataFrame) -> dict:
    """Rows of one feed: updated versions, duplicates, invalid rows per rule, corrected re-deliveries."""
    regular = table[~table["_correction"]]
    first_delivery = rows.groupby("_entity")["_delivery"].transform("min")
    rules = regular.loc[regular["_rule"] != "", "_rule"].value_counts()
    return {
        "rows": int(len(regular)),
        "updated_rows": int((rows["_delivery"] > first_delivery).sum()),
        "duplicate_rows": int(table["_duplicate"].sum()),
        "invalid_rows": {r: int(n) for r, n in rules.items()},
        "corrected_redeliveries": int(table["_correction"].sum()),
    }


def habit_counts(habits: list[Habits]) -> dict:
    """How many agencies have each export habit."""
    def count(values) -> dict:
        values = [str(v) for v in values]
        return {v: values.count(v) for v in sorted(set(values))}

    separators = {"\u3000": "fullwidth_space", " ": "halfwidth_space", "": "none"}
    return {
        "encoding": count(h.encoding for h in habits),
        "line_ending": count("crlf" if h.newline == "\r\n" else "lf" for h in habits),
        "date_style": count(h.date_style for h in habits),
        "seconds_in_times": sum(h.seconds for h in habits),
        "fullwidth_digits": sum(h.fullwidth_digits for h in habits),
        "kana_form": count(h.kana_form for h in habits),
        "name_separator": count(separators[h.name_separator] for h in habits),
        "kana_separator": count(separators[h.kana_separator] for h in habits),
        "variant_kanji_policy": count(h.variant_policy for h in habits),
        "code_case": count(h.code_case for h in habits),
        "header_case": count(h.header_case for h in habits),
        "quote_all": sum(h.quote_all for h in habits),
        "shuffled_columns": sum(h.shuffle_columns for h in habits),
        "extra_columns": sum(bool(h.extra_columns) for h in habits),
        "free_text_columns_omitted": sum(h.omit_free_text for h in habits),
    }


_DATE_FORMS = tuple((form, re.compile(pattern)) for form, pattern in (
    ("2021-04-01", r"\d{4}-\d{2}-\d{2}$"), ("2021/04/01", r"\d{4}/\d{2}/\d{2}$"),
    ("2021/4/1", r"\d{4}/\d{1,2}/\d{1,2}$"), ("令和元年5月1日", r"令和元年"), ("令和3年4月1日", r"令和\d"),
    ("平成31年4月30日", r"平成"), ("昭和63年12月31日", r"昭和"), ("R03.04.01", r"R\d{2}\.\d{2}\.\d{2}$"),
    ("R3.4.1", r"R\d"), ("H31.04.30", r"H\d{2}\.\d{2}\.\d{2}$"), ("H31.4.30", r"H\d"), ("S63.12.31", r"S\d"),
))


def _date_form_counts(c: Contract, cells: dict[str, np.ndarray]) -> dict:
    """Cells written in each date form of source-feeds.md §3 (full-width digits folded)."""
    counts = dict.fromkeys((form for form, _ in _DATE_FORMS), 0)
    fullwidth = 0
    for column in c.columns:
        if not column.is_temporal:
            continue
        for value, n in _date_parts(cells[column.name]):
            folded = value.translate(_HALFWIDTH_DIGITS)
            fullwidth += n if folded != value else 0
            form = next((f for f, pattern in _DATE_FORMS if pattern.match(folded)), None)
            if form:
                counts[form] += int(n)
    return {"cells_by_form": counts, "cells_with_fullwidth_digits": int(fullwidth)}


_HALFWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _date_parts(cells: np.ndarray) -> list[tuple[str, int]]:
    """Distinct date parts (a datetime without its time) of ``cells`` with their counts, in Arrow for speed."""
    text = pc.utf8_trim_whitespace(pa.array(cells, type=pa.string()))
    counts = pc.value_counts(pc.list_element(pc.split_pattern(text, " ", max_splits=1), 0))
    return list(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))


def feed_counts(feed: str, output: FeedOutput, rows: pd.DataFrame) -> dict:
    """The mess one group of agencies put into one feed (``rows``: its delivered rows)."""
    c = contract(feed)
    files = output.files
    kinds = Counter(file.kind for file in files)
    text = [output.cells[col.name] for col in c.columns if col.type == "text"]
    text_cells = pd.Series(np.concatenate(text) if text else [], dtype=object)
    return {
        "rows": row_counts(output.table, rows),
        "dates": _date_form_counts(c, output.cells),
        "files": {
            "written": len(files),
            "header_only": sum(len(file.rows) == 0 and not file.quarantine_rule for file in files),
            "redelivered_identical_copies": kinds["copy"],
            "re_exported_other_encoding_and_order": kinds["re_export"],
            "corrected_redeliveries": kinds["correction"],
            "quarantined": {file.path: file.quarantine_rule for file in files if file.quarantine_rule},
        },
        "free_text_cells": {"with_line_break": int(text_cells.str.contains("\n").sum()),
                            "with_comma": int(text_cells.str.contains(",").sum()),
                            "with_double_quote": int(text_cells.str.contains('"').sum())},
        "files_by_encoding": dict(Counter(file.encoding for file in files)),
    }


def assemble(habits: list[Habits], people: list[dict], feeds: dict[str, list[dict]], world: World,
             seen: np.ndarray, lost_follow_ups: int) -> dict:
    """mess.json: the agencies' habits, then the groups' counts (``people``: of their master records, ``feeds``:
    per feed, of ``feed_counts``) added up, and counts over the world; ``seen`` marks the children in the landing."""
    mess = {"agency_habits": habit_counts(habits)}
    for counts in people:
        add_counts(mess, counts)
    mess["rows"] = {}
    written: dict = {}
    for feed in FEEDS[1:]:
        rows = mess["rows"].setdefault(feed, {})
        for part in feeds[feed]:
            add_counts(rows, part["rows"])
            add_counts(written, {key: value for key, value in part.items() if key != "rows"})
        rows["invalid_rows"] = dict(sorted(rows["invalid_rows"].items(), key=lambda item: -item[1]))
    written["files_by_encoding"] = dict(sorted(written["files_by_encoding"].items()))
    c, f = world.children, world.families
    twins = np.flatnonzero(c.twin_of > np.arange(len(c)))
    # Children whose surname changed while they were alive (the new name was not theirs from birth).
    changed = (f.surname_change_day[c.family] < FOREVER) & (c.birth < f.surname_change_day[c.family])
    mess["twin_pairs"] = {"in_world": int(len(twins)), "in_landing": int((seen[twins] & seen[c.twin_of[twins]]).sum())}
    mess["children_with_surname_change"] = {"in_world": int(changed.sum()), "in_landing": int((changed & seen).sum())}
    mess.update(written)
    mess["outcome_noise"] = {"follow_ups_lost_leaving_region_or_turning_18": int(lost_follow_ups)}
    return mess


def add_counts(total: dict, more: dict) -> None:
    """Add ``more`` into ``total`` key by key, nested dicts alike; a text value (a file's rule) is kept."""
    for key, value in more.items():
        if isinstance(value, dict):
            add_counts(total.setdefault(key, {}), value)
        elif isinstance(value, str):
            total[key] = value
        else:
            total[key] = total.get(key, 0) + value
