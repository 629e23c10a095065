"""How much of each kind of mess went into the landing (``mess.json``)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kodomo.contracts import contract
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


def _date_form_counts(outputs: dict[str, FeedOutput]) -> dict:
    """Cells written in each date form of source-feeds.md §3 (full-width digits folded)."""
    counts = dict.fromkeys((form for form, _ in _DATE_FORMS), 0)
    fullwidth = 0
    for feed, output in outputs.items():
        for column in contract(feed).columns:
            if not column.is_temporal:
                continue
            for value, n in _date_parts(output.cells[column.name]):
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


def world_counts(world: World, seen: np.ndarray, lost_follow_ups: int, outputs: dict[str, FeedOutput]) -> dict:
    """Counts over the world and the written files; ``seen`` marks the children in the landing."""
    c, f = world.children, world.families
    twins = np.flatnonzero(c.twin_of > np.arange(len(c)))
    files = [file for output in outputs.values() for file in output.files]
    kinds = pd.Series([file.kind for file in files]).value_counts()
    # Children whose surname changed while they were alive (the new name was not theirs from birth).
    changed = (f.surname_change_day[c.family] < FOREVER) & (c.birth < f.surname_change_day[c.family])
    text_cells = pd.Series(np.concatenate([output.cells[col.name] for feed, output in outputs.items()
                                           for col in contract(feed).columns if col.type == "text"]))
    return {
        "twin_pairs": {"in_world": int(len(twins)),
                       "in_landing": int((seen[twins] & seen[c.twin_of[twins]]).sum())},
        "children_with_surname_change": {"in_world": int(changed.sum()),
                                         "in_landing": int((changed & seen).sum())},
        "dates": _date_form_counts(outputs),
        "files": {
            "written": len(files),
            "header_only": sum(len(file.rows) == 0 and not file.quarantine_rule for file in files),
            "redelivered_identical_copies": int(kinds.get("copy", 0)),
            "re_exported_other_encoding_and_order": int(kinds.get("re_export", 0)),
            "corrected_redeliveries": int(kinds.get("correction", 0)),
            "quarantined": {file.path: file.quarantine_rule for file in files if file.quarantine_rule},
        },
        "free_text_cells": {"with_line_break": int(text_cells.str.contains("\n").sum()),
                            "with_comma": int(text_cells.str.contains(",").sum()),
                            "with_double_quote": int(text_cells.str.contains('"').sum())},
        "files_by_encoding": _files_by_encoding(outputs),
        "outcome_noise": {"follow_ups_lost_leaving_region_or_turning_18": int(lost_follow_ups)},
    }


def _files_by_encoding(outputs: dict[str, FeedOutput]) -> dict:
    counts: dict[str, int] = {}
    for output in outputs.values():
        for file in output.files:
            counts[file.encoding] = counts.get(file.encoding, 0) + 1
    return dict(sorted(counts.items()))
