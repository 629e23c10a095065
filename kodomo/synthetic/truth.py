"""The ground truth, computed from what was actually written (file by file, row by row) with the
ingestion semantics of the contracts: quarantine, distinct invalid rows, versioning, outcomes."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.contracts import FEEDS, contract, row_rules
from kodomo.synthetic.clock import DATA_END, MINUTES_PER_DAY, PERIOD_START, date_of
from kodomo.synthetic.population import FAMILY_FACTORS, World
from kodomo.synthetic.writer import WrittenFile

WINDOW = 365 * MINUTES_PER_DAY


@dataclass
class FeedOutput:
    """A written feed: what is known about each row, its text, and the files that hold the rows."""

    table: pd.DataFrame  # per row: _rule, _agency, _child, _key (normalised key tuple), _content…
    cells: dict[str, np.ndarray]  # per contract column: the text of every row
    files: list[WrittenFile]


def occurrences(output: FeedOutput) -> pd.DataFrame:
    """One row per record in a file that was read (not quarantined whole)."""
    read = [f for f in output.files if not f.quarantine_rule]
    sizes = [len(f.rows) for f in read]
    return pd.DataFrame({
        "row": np.concatenate([f.rows for f in read]).astype(np.int64),
        "line": np.concatenate([f.lines for f in read]).astype(np.int64),
        "file": np.repeat(np.array([f.path for f in read], dtype=object), sizes),
        "day": np.repeat([f.day for f in read], sizes),
        "seq": np.repeat([f.seq for f in read], sizes),
    })


def expected_ingest(outputs: dict[str, FeedOutput], n_agencies: int) -> dict:
    """What ``kodomo report ingest --json`` must say: invalid rows counted once per distinct raw text,
    records as distinct normalised keys of valid rows; agencies.csv is clean."""
    report = {"agencies": {"files_read": 1, "files_quarantined": 0, "rows_quarantined": 0, "records": n_agencies,
                           "quarantine_by_rule": {}}}
    for feed in FEEDS[1:]:
        output = outputs[feed]
        occ = occurrences(output)
        table = output.table
        rule = table["_rule"].to_numpy()[occ["row"].to_numpy()]
        invalid = occ[rule != ""]
        valid = occ[rule == ""]
        distinct = invalid.assign(content=table["_content"].to_numpy()[invalid["row"].to_numpy()],
                                  rule=table["_rule"].to_numpy()[invalid["row"].to_numpy()])
        distinct = distinct.drop_duplicates("content")
        by_rule = distinct["rule"].value_counts()
        keys = table["_key"].to_numpy()[valid["row"].to_numpy()]
        report[feed] = {
            "files_read": len(output.files),
            "files_quarantined": sum(bool(f.quarantine_rule) for f in output.files),
            "rows_quarantined": len(distinct),
            "records": len(set(keys)),
            "quarantine_by_rule": {r: int(by_rule[r]) for r in row_rules() if r in by_rule},
        }
    return report


def quarantined_rows(outputs: dict[str, FeedOutput]) -> pd.DataFrame:
    frames = []
    for feed in FEEDS[1:]:
        occ = occurrences(outputs[feed])
        rule = outputs[feed].table["_rule"].to_numpy()[occ["row"].to_numpy()]
        occ = occ.assign(feed=feed, rule=rule)
        frames.append(occ[occ["rule"] != ""][["feed", "file", "line", "rule"]])
    return pd.concat(frames, ignore_index=True).sort_values(["feed", "file", "line"], kind="stable")


def quarantined_files(outputs: dict[str, FeedOutput]) -> pd.DataFrame:
    rows = [(feed, f.path, f.quarantine_rule) for feed in FEEDS[1:] for f in outputs[feed].files if f.quarantine_rule]
    return pd.DataFrame(rows, columns=["feed", "file", "rule"]).sort_values(["feed", "file"], kind="stable")


def child_records(outputs: dict[str, FeedOutput], agency_ids: np.ndarray) -> pd.DataFrame:
    frames = []
    for feed in FEEDS[1:]:
        if not contract(feed).person:
            continue
        occ = occurrences(outputs[feed])
        table = outputs[feed].table
        rows = occ["row"].to_numpy()
        rows = rows[table["_rule"].to_numpy()[rows] == ""]
        frames.append(pd.DataFrame({"agency_id": agency_ids[table["_agency"].to_numpy()[rows]],
                                    "local_child_id": table["_local_child_id"].to_numpy()[rows],
                                    "child": table["_child"].to_numpy()[rows]}))
    records = pd.concat(frames, ignore_index=True).drop_duplicates(["agency_id", "local_child_id"])
    records["child_id"] = child_ids(records["child"].to_numpy())
    return records.sort_values(["agency_id", "local_child_id"])[["agency_id", "local_child_id", "child_id"]]


def child_ids(child: np.ndarray) -> np.ndarray:
    return np.array([f"K{c + 1:07d}" for c in child], dtype=object)


def children_table(world: World, in_landing: np.ndarray) -> pd.DataFrame:
    c, f = world.children, world.families
    ids = child_ids(np.arange(len(c)))
    table = pd.DataFrame({
        "child_id": ids,
        "family_id": [f"F{x + 1:06d}" for x in c.family],
        "sex": c.sex,
        "birth_date": [date_of(b).isoformat() for b in c.birth],
        "twin_of": np.where(c.twin_of >= 0, child_ids(np.maximum(c.twin_of, 0)), ""),
        "vulnerability": np.round(f.vulnerability[c.family], 4),
    })
    for name in FAMILY_FACTORS:
        table[name] = f.factors[name][c.family].astype(int)
    table["child_disability"] = c.disability.astype(int)
    change = f.surname_change_day[c.family]
    table["surname_changed_on"] = [date_of(d).isoformat() if d <= DATA_END else "" for d in change]
    table["in_landing"] = in_landing.astype(int)
    return table


def intakes(output: FeedOutput, intake_risk: pd.DataFrame, agency_ids: np.ndarray) -> pd.DataFrame:
    """Every valid report in its final version, its oracle risk and its outcome as the data define it."""
    occ = occurrences(output)
    table = output.table
    occ = occ[table["_rule"].to_numpy()[occ["row"].to_numpy()] == ""]
    rows = table.iloc[occ["row"].to_numpy()][["_key", "_entity", "_child", "_updated", "_received",
                                              "_qualifies"]].reset_index(drop=True)
    rows["day"], rows["seq"] = occ["day"].to_numpy(), occ["seq"].to_numpy()
    final = rows.sort_values(["_key", "_updated", "day", "seq"], kind="stable").drop_duplicates("_key", keep="last")
    final = final.merge(intake_risk[["_entity", "oracle_risk"]], on="_entity", how="left")
    final["outcome"] = _outcomes(final["_child"].to_numpy(), final["_received"].to_numpy(),
                                 final["_qualifies"].to_numpy())
    received_day = final["_received"].to_numpy() // MINUTES_PER_DAY
    return pd.DataFrame({
        "agency_id": agency_ids[[k[0] for k in final["_key"]]],
        "report_id": [k[1] for k in final["_key"]],
        "child_id": child_ids(final["_child"].to_numpy()),
        "received_at": [_minute_text(m) for m in final["_received"]],
        "oracle_risk": np.round(final["oracle_risk"].to_numpy(), 6),
        "outcome": final["outcome"].astype(int),
        "window_closed": (received_day + 365 <= DATA_END).astype(int),
    }).sort_values(["received_at", "agency_id", "report_id"], kind="stable")


def _minute_text(minute: int) -> str:
    day, rest = divmod(int(minute), MINUTES_PER_DAY)
    return f"{date_of(day).isoformat()} {rest // 60:02d}:{rest % 60:02d}"


def _outcomes(child: np.ndarray, received: np.ndarray, qualifies: np.ndarray) -> np.ndarray:
    """1 when the same child has another qualifying report received in (t, t + 365 days]."""
    key = child.astype(np.int64) * (1 << 32) + received.astype(np.int64)
    qualifying = np.sort(key[qualifies])
    after = np.searchsorted(qualifying, key, side="right")
    until = np.searchsorted(qualifying, key + WINDOW, side="right")
    return until > after


def manifest(scale: str, seed: int, landing: str, prefectures: list[str]) -> dict:
    return {"scale": scale, "seed": seed, "landing": landing, "period_start": date_of(PERIOD_START).isoformat(),
            "data_end": date_of(DATA_END).isoformat(), "prefectures": prefectures}


def write_truth(folder: Path, manifest_: dict, ingest: dict, quarantine_rows: pd.DataFrame,
                quarantine_files: pd.DataFrame, mess: dict, records: pd.DataFrame, children: pd.DataFrame,
                intake_table: pd.DataFrame) -> None:
    folder.mkdir(parents=True)
    for name, payload in (("manifest.json", manifest_), ("expected_ingest.json", ingest), ("mess.json", mess)):
        (folder / name).write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for name, frame in (("quarantined_rows.csv", quarantine_rows), ("quarantined_files.csv", quarantine_files),
                        ("child_records.csv", records), ("children.csv", children), ("intakes.csv", intake_table)):
        frame.to_csv(folder / name, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
