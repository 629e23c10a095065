"""Load one feed: every file ever delivered (the archive) or in the landing; validate, quarantine, version."""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from kodomo.contracts import LINEAGE_COLUMNS, Contract
from kodomo.ingest.archive import Archive
from kodomo.ingest.landing import Entry, feed_files
from kodomo.ingest.reader import FileRejected, ReadFile, parse_file_name, read_csv_bytes
from kodomo.ingest.validate import check_rows

LINEAGE = tuple(c.name for c in LINEAGE_COLUMNS)
#: Order of the contents delivered under one path (the archive's version): orders agencies.csv's versions,
#: which have no delivery date. Used for versioning only; not a warehouse column.
ARRIVAL = "_arrival"
#: Columns of meta.files: how each file was read, or why it was quarantined or ignored.
FILE_COLUMNS = ("feed", "file", "status", "rule", "detail", "encoding", "line_ending", "rows", "extra_columns",
                "sha256")
_ABSENT = "\x00"  # marks a column the file did not have, so it differs from an empty value


@dataclass
class FeedLoad:
    feed: str
    files: pd.DataFrame  # one row per file: how it was read, why it was quarantined, or why it was ignored
    raw: pd.DataFrame  # every row read, as delivered text of the contract's columns (absent columns empty)
    versions: pd.DataFrame  # every distinct valid version, typed
    valid: pd.DataFrame  # the latest version per key
    quarantine: pd.DataFrame  # every invalid row occurrence with its rule and the raw text of its contract columns
    report: dict


@dataclass(frozen=True)
class _Delivered:
    rel: str  # path relative to the landing
    version: int  # the archive's version of this path (1 without an archive)
    read: Callable[[], bytes]
    sha256: str | None = None  # known for an archived file, whose read verifies it


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _deliveries(contract: Contract, landing: Path, archive: Archive | None,
                progress: Callable[[str], None]) -> tuple[list[_Delivered], list[Entry]]:
    """The files to load: with an archive, every file ever delivered (the landing's archived first)."""
    files, refused = feed_files(landing, contract)
    if archive is None:
        return [_Delivered(rel, 1, path.read_bytes) for rel, path in files], refused
    known = archive.files(contract.path, contract.is_folder)
    new = archive.keep(((rel, path.read_bytes()) for rel, path in files), known)
    if new:
        progress(f"{contract.feed}: archived {new} new file(s) in {archive.root}")
    known.sort(key=lambda e: (e.rel, e.version))
    return [_Delivered(e.rel, e.version, e.read, e.sha256) for e in known], refused


def _file_columns(contract: Contract, read: ReadFile, delivered: _Delivered, delivery, malformed: list[dict]) -> dict:
    """The file's well-formed records as one object array per contract column, plus lineage.

    Unknown columns are not kept: only their names, in meta.files (their values may be anything, such as a
    caseworker's name, that the platform has no reason to hold).
    """
    rel = delivered.rel
    width = len(read.header)
    names = contract.column_names
    positions = {}
    for i, name in enumerate(read.header):
        positions.setdefault(name, i)  # only unknown columns can repeat: a repeated contract column rejects the file
    known = [positions[name] for name in names if name in positions]
    good = [(r, ln) for r, ln in zip(read.records, read.lines, strict=True) if len(r) == width]
    for r, ln in zip(read.records, read.lines, strict=True):
        if len(r) != width:
            text = _csv_line([r[i] for i in known if i < len(r)])
            malformed.append({"file": rel, "line": ln, "column": None, "rule": "malformed_row",
                              "violations": f":malformed_row ({len(r)} fields, header has {width})",
                              "raw_text": text, "_distinct": "malformed\x1f" + text})
    n = len(good)
    cells = np.array([r for r, _ in good], dtype=object).reshape(n, width)
    absent = np.full(n, _ABSENT, dtype=object)
    columns = {name: cells[:, positions[name]] if name in positions else absent for name in names}
    columns["_file"] = np.full(n, rel, dtype=object)
    columns["_line"] = np.array([ln for _, ln in good], dtype=np.int64)
    columns["_delivery_date"] = np.full(n, np.datetime64(delivery.date, "s") if delivery else np.datetime64("NaT", "s"))
    columns["_seq"] = np.full(n, delivery.seq if delivery else 0, dtype=np.int64)
    columns[ARRIVAL] = np.full(n, delivered.version, dtype=np.int64)
    return columns


def _file_info(contract: Contract, rel: str, **values) -> dict:
    return dict.fromkeys(FILE_COLUMNS) | {"feed": contract.feed, "file": rel, "status": "read", "rows": 0} | values


def _read_file(contract: Contract, delivered: _Delivered, info: dict):
    """(read file, delivery) of one file, or FileRejected; fills ``info`` with what was learnt."""
    delivery = parse_file_name(PurePosixPath(delivered.rel).name) if contract.is_folder else None
    data = delivered.read()
    info["sha256"] = delivered.sha256 or hashlib.sha256(data).hexdigest()
    read = read_csv_bytes(data)
    info.update(encoding=read.encoding, line_ending=read.line_ending, rows=len(read.records))
    missing = sorted(set(contract.required_columns) - set(read.header))
    if missing:
        raise FileRejected("missing_required_column", "missing required column(s): " + ", ".join(missing))
    repeated = sorted({h for h in read.duplicate_columns if h in contract.column_names})
    if repeated:
        raise FileRejected("duplicate_column", "column(s) named more than once in the header: " + ", ".join(repeated))
    return read, delivery


def _read_files(contract: Contract, landing: Path, archive: Archive | None, progress: Callable[[str], None]):
    deliveries, refused = _deliveries(contract, landing, archive, progress)
    files, parts, malformed = [], [], []
    for entry in refused:
        files.append(_file_info(contract, entry.rel, status=entry.status, rule=entry.rule, detail=entry.detail))
        progress(f"{entry.rel}: file {entry.status} ({entry.rule}: {entry.detail})")
    for delivered in deliveries:
        info = _file_info(contract, delivered.rel)
        try:
            read, delivery = _read_file(contract, delivered, info)
        except FileRejected as rejected:
            info.update(status="quarantined", rule=rejected.rule, detail=rejected.detail)
            progress(f"{delivered.rel}: file quarantined ({rejected.rule}: {rejected.detail})")
            files.append(info)
            continue
        extras = [h for h in dict.fromkeys(read.header) if h not in contract.column_names]
        if extras:
            info["extra_columns"] = ",".join(extras)  # reported per file in meta.files; their values are not kept
        files.append(info)
        parts.append(_file_columns(contract, read, delivered, delivery, malformed))
    unknown = sorted({c for f in files if f["extra_columns"] for c in f["extra_columns"].split(",")})
    if unknown:
        count = sum(1 for f in files if f["extra_columns"])
        progress(f"{contract.feed}: ignored unknown column(s) {', '.join(unknown)} in {count} file(s) (see meta.files)")
    names = [*contract.column_names, "_file"]
    # One frame at the end: building a frame per file costs more than reading a small file.
    raw = pd.DataFrame(
        {name: np.concatenate([p[name] for p in parts]) if parts else np.array([], dtype=object) for name in names},
        dtype=object,
    )
    for name, dtype in (("_line", np.int64), ("_delivery_date", "datetime64[s]"), ("_seq", np.int64),
                        (ARRIVAL, np.int64)):
        raw[name] = np.concatenate([p[name] for p in parts]) if parts else np.array([], dtype=dtype)
    return pd.DataFrame(files, columns=list(FILE_COLUMNS)), raw, malformed


def _without_absent(column: pd.Series, fill) -> np.ndarray:
    values = column.to_numpy(dtype=object)
    return np.where(values == _ABSENT, fill, values)


def _distinct_text(raw: pd.DataFrame, contract: Contract) -> pd.Series:
    """Identity of a row's content: its raw text per contract column (absent ≠ empty)."""
    parts = [raw[c].astype(str) for c in sorted(contract.column_names)]
    out = parts[0]
    for p in parts[1:]:
        out = out + "\x1f" + p
    return out


def _quarantine_frame(contract: Contract, raw: pd.DataFrame, checked, malformed: list[dict]) -> pd.DataFrame:
    bad = checked.invalid
    rows = raw[bad]
    texts = [_row_text(contract, row) for row in rows.to_dict("records")]
    q = pd.DataFrame({
        "file": rows["_file"].astype("string"),
        "line": rows["_line"].astype("int64"),
        "column": checked.column[bad],
        "rule": checked.rule[bad],
        "violations": checked.violations[bad],
        "raw_text": pd.Series(texts, index=rows.index, dtype="string"),
        "_distinct": _distinct_text(rows, contract),
    })
    if malformed:
        q = pd.concat([q, pd.DataFrame(malformed)], ignore_index=True)
    q.insert(0, "feed", contract.feed)
    return q.reset_index(drop=True)


def _row_text(contract: Contract, row: dict) -> str:
    """The delivered text of the record's contract columns, as one CSV line in contract order."""
    return _csv_line([row[c] for c in contract.column_names if row[c] != _ABSENT])


def versions_and_latest(contract: Contract, valid_rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All distinct valid versions, and the winner per key: latest updated_at, then the later delivery.

    The platform's one statement of the rule in Python (dbt's is ``int_case_report_versions``); rows without an
    arrival order (anything but agencies.csv versions read by the ingestion) are ordered by the rest.
    """
    order = [*contract.key]
    if "updated_at" in valid_rows:
        order.append("updated_at")
    order += [c for c in ("_delivery_date", "_seq", ARRIVAL, "_file", "_line") if c in valid_rows]
    ordered = valid_rows.sort_values(order, kind="stable")
    versions = ordered.drop_duplicates(subset=list(contract.column_names), keep="first")
    latest = ordered.drop_duplicates(subset=list(contract.key), keep="last")
    return versions.reset_index(drop=True), latest.reset_index(drop=True)


def _resolve(contract: Contract, quarantine: pd.DataFrame, checked, raw: pd.DataFrame, versions: pd.DataFrame):
    """Mark quarantined rows replaced by a valid row of the same key delivered no earlier."""
    quarantine["status"] = "open"
    quarantine["resolved_by"] = pd.Series(pd.NA, index=quarantine.index, dtype="string")
    if quarantine.empty or versions.empty:
        return quarantine
    bad_values = checked.values[checked.invalid].reset_index(drop=True)
    keyed = bad_values[list(contract.key)].notna().all(axis=1)
    n = int(checked.invalid.sum())
    delivered = raw.loc[checked.invalid, "_delivery_date"].reset_index(drop=True)
    candidates = bad_values[keyed].assign(_q=bad_values.index[keyed], _bad_delivery=delivered[keyed])
    latest = versions.sort_values(["_delivery_date", "_seq", ARRIVAL, "_file", "_line"], kind="stable")
    latest = latest.drop_duplicates(list(contract.key), keep="last")
    merged = candidates.merge(latest[[*contract.key, "_file", "_delivery_date"]], on=list(contract.key))
    merged = merged[merged["_delivery_date"].fillna(pd.Timestamp.min) >= merged["_bad_delivery"].fillna(pd.Timestamp.min)]
    resolved = merged.set_index("_q")["_file"]
    resolved = resolved[resolved.index < n]
    quarantine.loc[resolved.index, "status"] = "resolved"
    quarantine.loc[resolved.index, "resolved_by"] = resolved.astype("string")
    return quarantine


def _report(files: pd.DataFrame, raw: pd.DataFrame, checked, quarantine: pd.DataFrame, latest: pd.DataFrame, malformed) -> dict:
    distinct = quarantine.drop_duplicates("_distinct")
    by_rule = distinct["rule"].value_counts()
    status = files["status"]
    return {
        "files_read": int((status != "ignored").sum()),
        "files_quarantined": int((status == "quarantined").sum()),
        "rows_read": int(len(raw) + len(malformed)),
        "rows_valid": int((~checked.invalid).sum()),
        "rows_quarantined": int(len(distinct)),
        "records": int(len(latest)),
        "quarantine_by_rule": {str(k): int(v) for k, v in sorted(by_rule.items())},
        "files_with_unknown_columns": int(files["extra_columns"].notna().sum()),
        "files_ignored": int((status == "ignored").sum()),
    }


def load_feed(
    contract: Contract, landing: Path, agencies: frozenset[str], progress: Callable[[str], None] = lambda _: None,
    archive: Archive | None = None,
) -> FeedLoad:
    """Load the feed from ``landing`` (resolved) and, given an ``archive``, from every file archived before."""
    files, raw, malformed = _read_files(contract, landing, archive, progress)
    text = pd.DataFrame({c: _without_absent(raw[c], "") for c in contract.column_names}, index=raw.index,
                        dtype=object)
    delivery = raw["_delivery_date"] if contract.is_folder else None
    checked = check_rows(contract, text, delivery, agencies)
    quarantine = _quarantine_frame(contract, raw, checked, malformed)
    valid_rows = pd.concat([checked.values, raw[[*LINEAGE, ARRIVAL]]], axis=1)[~checked.invalid]
    versions, latest = versions_and_latest(contract, valid_rows)
    quarantine = _resolve(contract, quarantine, checked, raw, versions)
    report = _report(files, raw, checked, quarantine, latest, malformed)
    columns = list(contract.column_names)
    for c in columns:  # a column the file did not have is NULL, not an empty value
        raw[c] = pd.Series(_without_absent(raw[c], None), index=raw.index, dtype=object)
    return FeedLoad(
        feed=contract.feed,
        files=files,
        raw=raw,
        versions=versions,
        valid=latest,
        quarantine=quarantine.drop(columns="_distinct").assign(distinct_key=quarantine["_distinct"]),
        report=report,
    )
