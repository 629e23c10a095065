"""The ground truth, computed from what was actually written (file by file, row by row) with the
ingestion semantics of the contracts: quarantine, distinct invalid rows, versioning, outcomes."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.contracts import FEEDS, row_rules
from kodomo.synthetic.clock import DATA_END, MINUTES_PER_DAY, PERIOD_START, date_of
from kodomo.synthetic.population import FAMILY_FACTORS, World
from kodomo.synthetic.writer import WrittenFile

WINDOW = 365 * MINUTES_PER_DAY


@dataclass
class FeedOutput:
    """A written feed: what is known about each row, its text, and the files that hold the rows."""

    table: pd.DataFrame  # per row: _rule, _agency, _child, _key (normalised key, numbered), _content…
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


@dataclass
class FeedTruth:
    """What the ground truth keeps of one feed as one group of agencies wrote it.

    An agency belongs to one group, and every record key, invalid row's text and file path holds its
    agency: the groups' parts add up to the truth of the whole landing.
    """

    feed: str
    files: list[tuple[str, str]]  # every file written: (path, the rule quarantining it whole or "")
    invalid: pd.DataFrame  # the distinct raw contents of invalid rows: content, rule
    records: int  # distinct normalised keys of valid rows
    quarantined_rows: pd.DataFrame  # feed, file, line, rule
    reports: pd.DataFrame | None  # case_reports: the final version of every valid report (see ``intakes``)


def feed_truth(feed: str, output: FeedOutput, intake_risk: pd.DataFrame, agency_ids: np.ndarray) -> FeedTruth:
    """Read one written feed with the ingestion semantics of the contracts: invalid rows counted once per
    distinct raw text, records as distinct normalised keys of valid rows, the latest version per key."""
    occ = occurrences(output)
    table = output.table
    rows = occ["row"].to_numpy()
    rule = table["_rule"].to_numpy()[rows]
    invalid = pd.DataFrame({"content": table["_content"].to_numpy()[rows[rule != ""]], "rule": rule[rule != ""]})
    valid = rows[rule == ""]
    quarantined = occ[rule != ""].assign(feed=feed, rule=rule[rule != ""])[["feed", "file", "line", "rule"]]
    return FeedTruth(
        feed=feed,
        files=[(f.path, f.quarantine_rule) for f in output.files],
        invalid=invalid.drop_duplicates("content").reset_index(drop=True),
        records=len(np.unique(table["_key"].to_numpy()[valid])),
        quarantined_rows=quarantined.reset_index(drop=True),
        reports=_final_reports(occ[rule == ""], table, intake_risk, agency_ids) if feed == "case_reports" else None,
    )


def expected_ingest(parts: dict[str, list[FeedTruth]], n_agencies: int) -> dict:
    """What ``kodomo report ingest --json`` must say; agencies.csv is clean."""
    report = {"agencies": {"files_read": 1, "files_quarantined": 0, "rows_quarantined": 0, "records": n_agencies,
                           "quarantine_by_rule": {}}}
    for feed in FEEDS[1:]:
        distinct = pd.concat([p.invalid for p in parts[feed]], ignore_index=True).drop_duplicates("content")
        by_rule = distinct["rule"].value_counts()
        report[feed] = {
            "files_read": sum(len(p.files) for p in parts[feed]),
            "files_quarantined": sum(bool(rule) for p in parts[feed] for _, rule in p.files),
            "rows_quarantined": len(distinct),
            "records": sum(p.records for p in parts[feed]),
            "quarantine_by_rule": {r: int(by_rule[r]) for r in row_rules() if r in by_rule},
        }
    return report


def quarantined_rows(parts: dict[str, list[FeedTruth]]) -> pd.DataFrame:
    frames = [p.quarantined_rows for feed in FEEDS[1:] for p in parts[feed]]
    return pd.concat(frames, ignore_index=True).sort_values(["feed", "file", "line"], kind="stable")


def quarantined_files(parts: dict[str, list[FeedTruth]]) -> pd.DataFrame:
    rows = [(feed, path, rule) for feed in FEEDS[1:] for p in parts[feed] for path, rule in p.files if rule]
    return pd.DataFrame(rows, columns=["feed", "file", "rule"]).sort_values(["feed", "file"], kind="stable")


def feed_records(output: FeedOutput, agency_ids: np.ndarray) -> pd.DataFrame:
    """The records of a person feed's valid rows: agency_id, local_child_id, child (each once)."""
    rows = occurrences(output)["row"].to_numpy()
    table = output.table
    valid = rows[table["_rule"].to_numpy()[rows] == ""]
    return pd.DataFrame({"agency_id": agency_ids[table["_agency"].to_numpy()[valid]],
                         "local_child_id": table["_local_child_id"].to_numpy()[valid],
                         "child": table["_child"].to_numpy()[valid]}).drop_duplicates(["agency_id", "local_child_id"])


def child_records(feeds: list[pd.DataFrame]) -> tuple[dict[str, str], np.ndarray]:
    """The records of one group of agencies (``feed_records`` of its person feeds) as CSV lines per agency (an
    agency's records are all in its group), and the children they hold."""
    records = pd.concat(feeds, ignore_index=True).drop_duplicates(["agency_id", "local_child_id"])
    records["child_id"] = child_ids(records["child"].to_numpy())
    records = records.sort_values(["agency_id", "local_child_id"])
    lines = {agency: _csv_text(part[_RECORD_COLUMNS], header=False)
             for agency, part in records.groupby("agency_id", sort=True)}
    return lines, np.unique(records["child"].to_numpy())


_RECORD_COLUMNS = ["agency_id", "local_child_id", "child_id"]


def child_ids(child: np.ndarray) -> np.ndarray:
    return np.array([f"K{c + 1:07d}" for c in child], dtype=object)


def children_tables(world: World, in_landing: np.ndarray, chunk: int = 250_000) -> Iterator[pd.DataFrame]:
    """children.csv in chunks of children, so that a large world never holds the whole table."""
    c, f = world.children, world.families
    for first in range(0, len(c), chunk):
        kids = np.arange(first, min(first + chunk, len(c)))
        family = c.family[kids]
        table = pd.DataFrame({
            "child_id": child_ids(kids),
            "family_id": [f"F{x + 1:06d}" for x in family],
            "sex": c.sex[kids],
            "birth_date": [date_of(b).isoformat() for b in c.birth[kids]],
            "twin_of": np.where(c.twin_of[kids] >= 0, child_ids(np.maximum(c.twin_of[kids], 0)), ""),
            "vulnerability": np.round(f.vulnerability[family], 4),
        })
        for name in FAMILY_FACTORS:
            table[name] = f.factors[name][family].astype(int)
        table["child_disability"] = c.disability[kids].astype(int)
        change = f.surname_change_day[family]
        table["surname_changed_on"] = [date_of(d).isoformat() if d <= DATA_END else "" for d in change]
        table["in_landing"] = in_landing[kids].astype(int)
        yield table


def _final_reports(occ: pd.DataFrame, table: pd.DataFrame, intake_risk: pd.DataFrame,
                   agency_ids: np.ndarray) -> pd.DataFrame:
    """Every valid report in its final version with its oracle risk (``occ``: its valid occurrences)."""
    rows = table.iloc[occ["row"].to_numpy()][["_key", "_agency", "_report_id", "_entity", "_child", "_updated",
                                              "_received", "_qualifies"]].reset_index(drop=True)
    rows["day"], rows["seq"] = occ["day"].to_numpy(), occ["seq"].to_numpy()
    final = rows.sort_values(["_key", "_updated", "day", "seq"], kind="stable").drop_duplicates("_key", keep="last")
    final = final.merge(intake_risk[["_entity", "oracle_risk"]], on="_entity", how="left")
    return pd.DataFrame({
        "agency_id": agency_ids[final["_agency"].to_numpy()],
        "report_id": final["_report_id"].to_numpy(),
        "child": final["_child"].to_numpy(), "received": final["_received"].to_numpy(),
        "qualifies": final["_qualifies"].to_numpy(), "oracle_risk": final["oracle_risk"].to_numpy(),
    })


def intakes(reports: list[pd.DataFrame]) -> pd.DataFrame:
    """Every valid report, its oracle risk and its outcome as the data define it (over every agency's reports)."""
    final = pd.concat(reports, ignore_index=True)
    outcome = _outcomes(final["child"].to_numpy(), final["received"].to_numpy(), final["qualifies"].to_numpy())
    received_day = final["received"].to_numpy() // MINUTES_PER_DAY
    return pd.DataFrame({
        "agency_id": final["agency_id"].to_numpy(),
        "report_id": final["report_id"].to_numpy(),
        "child_id": child_ids(final["child"].to_numpy()),
        "received_at": [_minute_text(m) for m in final["received"]],
        "oracle_risk": np.round(final["oracle_risk"].to_numpy(), 6),
        "outcome": outcome.astype(int),
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
                quarantine_files: pd.DataFrame, mess: dict, records: dict[str, str], children: Iterable[pd.DataFrame],
                intake_table: pd.DataFrame) -> None:
    """``records``: child_records.csv lines per agency; ``children``: children.csv in chunks."""
    folder.mkdir(parents=True)
    for name, payload in (("manifest.json", manifest_), ("expected_ingest.json", ingest), ("mess.json", mess)):
        (folder / name).write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for name, frame in (("quarantined_rows.csv", quarantine_rows), ("quarantined_files.csv", quarantine_files),
                        ("intakes.csv", intake_table)):
        (folder / name).write_text(_csv_text(frame), encoding="utf-8")
    with open(folder / "child_records.csv", "w", encoding="utf-8", newline="") as out:
        out.write(",".join(_RECORD_COLUMNS) + "\n")
        out.writelines(records[agency] for agency in sorted(records))
    with open(folder / "children.csv", "w", encoding="utf-8", newline="") as out:
        for i, chunk in enumerate(children):
            out.write(_csv_text(chunk, header=i == 0))


def _csv_text(frame: pd.DataFrame, header: bool = True) -> str:
    return frame.to_csv(index=False, header=header, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
