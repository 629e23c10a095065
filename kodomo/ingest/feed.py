"""Load one feed from a landing folder: read every file, validate, quarantine, version."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.contracts import Contract
from kodomo.ingest.landing import feed_files
from kodomo.ingest.reader import FileRejected, ReadFile, parse_file_name, read_csv_file
from kodomo.ingest.validate import check_rows

META_COLUMNS = ("_file", "_line", "_delivery_date", "_seq")
_ABSENT = "\x00"  # marks a column the file did not have, so it differs from an empty value


@dataclass
class FeedLoad:
    feed: str
    files: pd.DataFrame  # one row per file: how it was read, or why it was quarantined
    raw: pd.DataFrame  # every row read, as delivered text (absent columns empty)
    versions: pd.DataFrame  # every distinct valid version, typed
    valid: pd.DataFrame  # the latest version per key
    quarantine: pd.DataFrame  # every invalid row occurrence with its rule and raw text
    report: dict


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _file_columns(contract: Contract, read: ReadFile, rel: str, delivery, malformed: list[dict]) -> dict:
    """The file's well-formed records as one object array per contract column, plus lineage."""
    width = len(read.header)
    names = contract.column_names
    good = [(r, ln) for r, ln in zip(read.records, read.lines, strict=True) if len(r) == width]
    for r, ln in zip(read.records, read.lines, strict=True):
        if len(r) != width:
            malformed.append({"file": rel, "line": ln, "column": None, "rule": "malformed_row",
                              "violations": f":malformed_row ({len(r)} fields, header has {width})",
                              "raw_text": _csv_line(r), "_distinct": "malformed\x1f" + _csv_line(r)})
    positions = {}
    for i, name in enumerate(read.header):
        positions.setdefault(name, i)  # a repeated header name: the first one counts
    n = len(good)
    cells = np.array([r for r, _ in good], dtype=object).reshape(n, width)
    absent = np.full(n, _ABSENT, dtype=object)
    columns = {name: cells[:, positions[name]] if name in positions else absent for name in names}
    extras = [h for h in read.header if h not in names]
    columns["_extra"] = np.array(
        [json.dumps({h: r[positions[h]] for h in extras}, ensure_ascii=False) for r, _ in good] if extras
        else [None] * n, dtype=object)
    columns["_file"] = np.full(n, rel, dtype=object)
    columns["_line"] = np.array([ln for _, ln in good], dtype=np.int64)
    columns["_delivery_date"] = np.full(n, np.datetime64(delivery.date, "s") if delivery else np.datetime64("NaT", "s"))
    columns["_seq"] = np.full(n, delivery.seq if delivery else 0, dtype=np.int64)
    return columns


def _read_files(contract: Contract, landing: Path, progress: Callable[[str], None]):
    files, parts, malformed = [], [], []
    required = set(contract.required_columns)
    for path in feed_files(landing, contract):
        rel = path.relative_to(landing).as_posix()
        info = {"feed": contract.feed, "file": rel, "status": "read", "rule": None, "detail": None,
                "encoding": None, "line_ending": None, "rows": 0, "extra_columns": None, "sha256": None}
        try:
            delivery = parse_file_name(path.name) if contract.is_folder else None
            read = read_csv_file(path)
            info.update(encoding=read.encoding, line_ending=read.line_ending, sha256=read.sha256,
                        rows=len(read.records))
            missing = sorted(required - set(read.header))
            if missing:
                raise FileRejected("missing_required_column", "missing required column(s): " + ", ".join(missing))
        except FileRejected as rejected:
            info.update(status="quarantined", rule=rejected.rule, detail=rejected.detail)
            progress(f"{rel}: file quarantined ({rejected.rule}: {rejected.detail})")
            files.append(info)
            continue
        extras = [h for h in read.header if h not in contract.column_names]
        if extras:
            info["extra_columns"] = ",".join(extras)  # reported per file in meta.files
        files.append(info)
        parts.append(_file_columns(contract, read, rel, delivery, malformed))
    unknown = sorted({c for f in files if f["extra_columns"] for c in f["extra_columns"].split(",")})
    if unknown:
        count = sum(1 for f in files if f["extra_columns"])
        progress(f"{contract.feed}: ignored unknown column(s) {', '.join(unknown)} in {count} file(s) (see meta.files)")
    names = [*contract.column_names, "_extra", "_file"]
    # One frame at the end: building a frame per file costs more than reading a small file.
    raw = pd.DataFrame(
        {name: np.concatenate([p[name] for p in parts]) if parts else np.array([], dtype=object) for name in names},
        dtype=object,
    )
    raw["_line"] = np.concatenate([p["_line"] for p in parts]) if parts else np.array([], dtype=np.int64)
    raw["_delivery_date"] = (np.concatenate([p["_delivery_date"] for p in parts]) if parts
                             else np.array([], dtype="datetime64[s]"))
    raw["_seq"] = np.concatenate([p["_seq"] for p in parts]) if parts else np.array([], dtype=np.int64)
    return pd.DataFrame(files), raw, malformed


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
    """The delivered record again as one CSV line (contract columns, then unknown extras)."""
    fields = [row[c] for c in contract.column_names if row[c] != _ABSENT]
    extra = json.loads(row["_extra"]) if row["_extra"] else {}
    return _csv_line(fields + list(extra.values()))


def _version(contract: Contract, valid_rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All distinct valid versions, and the winner per key: latest updated_at, then later delivery."""
    order = [*contract.key]
    if "updated_at" in valid_rows:
        order.append("updated_at")
    order += ["_delivery_date", "_seq", "_file", "_line"]
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
    latest = versions.sort_values("_delivery_date").drop_duplicates(list(contract.key), keep="last")
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
    read_files = files[files["status"] == "read"] if not files.empty else files
    return {
        "files_read": int(len(files)),
        "files_quarantined": int((files["status"] == "quarantined").sum()) if not files.empty else 0,
        "rows_read": int(len(raw) + len(malformed)),
        "rows_valid": int((~checked.invalid).sum()),
        "rows_quarantined": int(len(distinct)),
        "records": int(len(latest)),
        "quarantine_by_rule": {str(k): int(v) for k, v in sorted(by_rule.items())},
        "files_with_unknown_columns": int(read_files["extra_columns"].notna().sum()) if not files.empty else 0,
    }


def load_feed(
    contract: Contract, landing: Path, agencies: frozenset[str], progress: Callable[[str], None] = lambda _: None
) -> FeedLoad:
    files, raw, malformed = _read_files(contract, landing, progress)
    text = pd.DataFrame({c: _without_absent(raw[c], "") for c in contract.column_names}, index=raw.index,
                        dtype=object)
    delivery = raw["_delivery_date"] if contract.is_folder else None
    checked = check_rows(contract, text, delivery, agencies)
    quarantine = _quarantine_frame(contract, raw, checked, malformed)
    valid_rows = pd.concat([checked.values, raw[list(META_COLUMNS)]], axis=1)[~checked.invalid]
    versions, latest = _version(contract, valid_rows)
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
