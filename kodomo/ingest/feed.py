"""Load one feed in bounded memory: every file ever delivered (the archive) or in the landing.

Each delivered file is read once, in chunks of records, validated and quarantined with the feed's contract, and its
checked rows appended to the feed's staging store (``kodomo.ingest.staging``). A later run reads only the files the
staging store has not seen, so a day's delivery costs what its own files cost. The warehouse's tables (raw, valid,
versions, quarantine, meta.files and the report) are then derived from the whole staging store by SQL, where the
latest-version rule and the quarantine's resolution see every file at once (``kodomo.ingest.store``).
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import duckdb
import numpy as np
import pandas as pd

from kodomo.contracts import Contract
from kodomo.ingest.archive import Archive
from kodomo.ingest.landing import Entry, feed_files
from kodomo.ingest.reader import FileRejected, ReadFile, parse_file_name, read_csv_bytes
from kodomo.ingest.staging import FILE_COLUMNS, Stage, StagedFile, raw_column
from kodomo.ingest.store import publish_feed
from kodomo.ingest.validate import check_rows

#: Records validated and staged at once: peak memory follows this, never a file's or a landing's size.
CHUNK_ROWS = 50_000
_ABSENT = "\x00"  # marks a column the file did not have, so it differs from an empty value


@dataclass
class FeedLoad:
    """A feed's warehouse tables as frames: what ``load_feed`` returns for inspection and tests."""

    feed: str
    files: pd.DataFrame  # one row per file: how it was read, why it was quarantined, or why it was ignored
    raw: pd.DataFrame  # every row read, as delivered text of the contract's columns (absent columns NULL)
    versions: pd.DataFrame  # every distinct valid version, typed
    valid: pd.DataFrame  # the latest version per key
    quarantine: pd.DataFrame  # every invalid row occurrence with its rule and the raw text of its contract columns
    report: dict


@dataclass(frozen=True)
class _Delivered:
    rel: str  # path relative to the landing
    version: int  # the archive's version of this path (1 without an archive)
    sha256: str
    read: Callable[[], bytes]

    @property
    def staged(self) -> StagedFile:
        return StagedFile(self.rel, self.version, self.sha256)


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _deliveries(contract: Contract, landing: Path, archive: Archive | None,
                progress: Callable[[str], None]) -> tuple[list[_Delivered], list[Entry]]:
    """The files to load, by path and version: with an archive, every file ever delivered (the landing's archived
    first)."""
    files, refused = feed_files(landing, contract)
    if archive is None:
        return [_Delivered(rel, 1, hashlib.sha256(path.read_bytes()).hexdigest(), path.read_bytes)
                for rel, path in files], refused
    known = archive.files(contract.path, contract.is_folder)
    new = archive.keep(((rel, path.read_bytes()) for rel, path in files), known)
    if new:
        progress(f"{contract.feed}: archived {new} new file(s) in {archive.root}")
    known.sort(key=lambda e: (e.rel, e.version))
    return [_Delivered(e.rel, e.version, e.sha256, e.read) for e in known], refused


def _file_info(contract: Contract, rel: str, **values) -> dict:
    return dict.fromkeys(FILE_COLUMNS) | {"feed": contract.feed, "file": rel, "status": "read", "rows": 0} | values


def _read_file(contract: Contract, delivered: _Delivered, info: dict):
    """(read file, delivery) of one file, or FileRejected; fills ``info`` with what was learnt."""
    delivery = parse_file_name(PurePosixPath(delivered.rel).name) if contract.is_folder else None
    info["sha256"] = delivered.sha256
    read = read_csv_bytes(delivered.read())
    info.update(encoding=read.encoding, line_ending=read.line_ending, rows=len(read.records))
    missing = sorted(set(contract.required_columns) - set(read.header))
    if missing:
        raise FileRejected("missing_required_column", "missing required column(s): " + ", ".join(missing))
    repeated = sorted({h for h in read.duplicate_columns if h in contract.column_names})
    if repeated:
        raise FileRejected("duplicate_column", "column(s) named more than once in the header: " + ", ".join(repeated))
    return read, delivery


def _positions(read: ReadFile) -> dict[str, int]:
    positions: dict[str, int] = {}
    for i, name in enumerate(read.header):
        positions.setdefault(name, i)  # only unknown columns can repeat: a repeated contract column rejects the file
    return positions


def _file_columns(contract: Contract, read: ReadFile, delivered: _Delivered, delivery) -> dict[str, np.ndarray]:
    """The file's well-formed records as one array per contract column (its delivered text, ``_ABSENT`` where the
    file has no such column) and per lineage column.

    Unknown columns are not kept: only their names, in meta.files (their values may be anything, such as a
    caseworker's name, that the platform has no reason to hold).
    """
    width = len(read.header)
    positions = _positions(read)
    good = [(r, ln) for r, ln in zip(read.records, read.lines, strict=True) if len(r) == width]
    n = len(good)
    cells = np.array([r for r, _ in good], dtype=object).reshape(n, width)
    absent = np.full(n, _ABSENT, dtype=object)
    columns = {name: cells[:, positions[name]] if name in positions else absent for name in contract.column_names}
    columns["_file"] = np.full(n, delivered.rel, dtype=object)
    columns["_arrival"] = np.full(n, delivered.version, dtype=np.int64)
    columns["_line"] = np.array([ln for _, ln in good], dtype=np.int64)
    columns["_delivery_date"] = np.full(n, np.datetime64(delivery.date, "s") if delivery else np.datetime64("NaT", "s"))
    columns["_seq"] = np.full(n, delivery.seq if delivery else 0, dtype=np.int64)
    return columns


def _malformed_rows(contract: Contract, read: ReadFile, delivered: _Delivered) -> list[dict]:
    """Records whose field count differs from the header's: quarantined as a whole, never parsed."""
    width = len(read.header)
    positions = _positions(read)
    known = [positions[name] for name in contract.column_names if name in positions]
    rows = []
    for record, line in zip(read.records, read.lines, strict=True):
        if len(record) != width:
            text = _csv_line([record[i] for i in known if i < len(record)])
            rows.append({"_file": delivered.rel, "_arrival": delivered.version, "_line": line,
                         "_violations": f":malformed_row ({len(record)} fields, header has {width})",
                         "_raw_text": text, "_distinct": "malformed\x1f" + text})
    return rows


def _checked_rows(contract: Contract, columns: dict[str, np.ndarray], agencies: frozenset[str],
                  dated: bool) -> pd.DataFrame:
    """A chunk of records (of one or several files) as staged rows: typed values, delivered text, lineage, rule."""
    delivered_text = {c: columns[c] for c in contract.column_names}
    text = pd.DataFrame({c: np.where(v == _ABSENT, "", v) for c, v in delivered_text.items()}, dtype=object)
    delivery_date = pd.Series(columns["_delivery_date"]) if dated else None
    checked = check_rows(contract, text, delivery_date, agencies)
    invalid = checked.invalid.to_numpy()
    staged = checked.values
    for name, values in delivered_text.items():
        staged[raw_column(name)] = np.where(values == _ABSENT, None, values)
    for name in ("_file", "_line", "_delivery_date", "_seq", "_arrival"):
        staged[name] = columns[name]
    staged["_rule"] = checked.rule
    staged["_column"] = checked.column
    staged["_violations"] = checked.violations
    staged["_raw_text"] = _invalid_only(invalid, lambda i: _csv_line(
        [delivered_text[c][i] for c in contract.column_names if delivered_text[c][i] != _ABSENT]))
    # Identity of a row's content: its text per contract column in name order (absent ≠ empty).
    staged["_distinct"] = _invalid_only(invalid, lambda i: "\x1f".join(
        str(delivered_text[c][i]) for c in sorted(contract.column_names)))
    return staged


def _invalid_only(invalid: np.ndarray, text_of: Callable[[int], str]) -> np.ndarray:
    out = np.full(len(invalid), None, dtype=object)
    for i in np.flatnonzero(invalid):
        out[i] = text_of(int(i))
    return out


class _Batcher:
    """Stages new files in chunks of about ``chunk_rows`` records, checked together whatever files they come from.

    A transaction ends only between files, once a chunk's worth has been written: every file is staged whole or
    not at all, a day of small files costs a few transactions, and a large file is checked in chunks.
    """

    def __init__(self, stage: Stage, contract: Contract, agencies: frozenset[str], chunk_rows: int):
        self.stage, self.contract, self.agencies, self.chunk_rows = stage, contract, agencies, chunk_rows
        self.pieces: list[dict[str, np.ndarray]] = []
        self.pending = 0  # records in ``pieces``
        self.written = 0  # records written in the open transaction
        self.files: list[tuple[StagedFile, dict]] = []
        self.malformed: list[dict] = []

    def add(self, staged: StagedFile, info: dict, columns: dict[str, np.ndarray] | None = None,
            malformed: list[dict] = ()) -> None:
        """Add one file: its well-formed records and its malformed ones (none for a quarantined file)."""
        rows = 0 if columns is None else len(columns["_line"])
        start = 0
        while start < rows:
            take = min(rows - start, self.chunk_rows - self.pending)
            self.pieces.append({k: v[start:start + take] for k, v in columns.items()})
            self.pending += take
            start += take
            if self.pending >= self.chunk_rows:
                self._check_and_write()
        self.files.append((staged, info))
        self.malformed += malformed
        if self.written + self.pending >= self.chunk_rows:
            self.flush()

    def _check_and_write(self) -> None:
        if not self.pieces:
            return
        columns = {k: np.concatenate([p[k] for p in self.pieces]) for k in self.pieces[0]}
        self.stage.append_rows(_checked_rows(self.contract, columns, self.agencies, self.contract.is_folder))
        self.written += self.pending
        self.pieces, self.pending = [], 0

    def flush(self) -> None:
        """Write what is pending and the pending files' rows, and commit."""
        if not self.files:
            return
        self._check_and_write()
        self.stage.append_files(self.files, self.malformed)
        self.stage.commit()
        self.files, self.malformed, self.written = [], [], 0


def _stage_new_files(stage: Stage, contract: Contract, deliveries: list[_Delivered], agencies: frozenset[str],
                     chunk_rows: int, progress: Callable[[str], None]) -> None:
    known = stage.files()
    batcher = _Batcher(stage, contract, agencies, chunk_rows)
    for delivered in deliveries:
        staged = delivered.staged
        if staged in known:
            continue
        info = _file_info(contract, delivered.rel)
        try:
            read, delivery = _read_file(contract, delivered, info)
        except FileRejected as rejected:
            info.update(status="quarantined", rule=rejected.rule, detail=rejected.detail)
            progress(f"{delivered.rel}: file quarantined ({rejected.rule}: {rejected.detail})")
            batcher.add(staged, info)
            continue
        extras = [h for h in dict.fromkeys(read.header) if h not in contract.column_names]
        if extras:
            info["extra_columns"] = ",".join(extras)  # reported per file in meta.files; their values are not kept
        batcher.add(staged, info, _file_columns(contract, read, delivered, delivery),
                    _malformed_rows(contract, read, delivered))
    batcher.flush()


def ingest_feed(
    con: duckdb.DuckDBPyConnection, contract: Contract, landing: Path, agencies: frozenset[str],
    staging: Path | None = None, progress: Callable[[str], None] = lambda _: None, archive: Archive | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Load the feed from ``landing`` (resolved) and, given an ``archive``, from every file archived before, into the
    warehouse ``con``; return the feed's report.

    ``staging`` is the feed's staging store (a DuckDB file kept between runs; in memory if None): files it already
    holds, checked under the same contract and agencies, are not read again.
    """
    deliveries, refused = _deliveries(contract, landing, archive, progress)
    for entry in refused:
        progress(f"{entry.rel}: file {entry.status} ({entry.rule}: {entry.detail})")
    with Stage.attach(con, contract, agencies, staging) as stage:
        stage.keep_only([d.staged for d in deliveries])
        _stage_new_files(stage, contract, deliveries, agencies, chunk_rows, progress)
        refused_files = [_file_info(contract, e.rel, status=e.status, rule=e.rule, detail=e.detail) for e in refused]
        report = publish_feed(con, contract, stage, refused_files)
    unknown = report.pop("unknown_columns")
    if unknown:
        progress(f"{contract.feed}: ignored unknown column(s) {', '.join(unknown)} in "
                 f"{report['files_with_unknown_columns']} file(s) (see meta.files)")
    return report


def load_feed(
    contract: Contract, landing: Path, agencies: frozenset[str], progress: Callable[[str], None] = lambda _: None,
    archive: Archive | None = None, chunk_rows: int = CHUNK_ROWS,
) -> FeedLoad:
    """The feed's tables as frames, ingested into a DuckDB in memory (for inspection and tests)."""
    with duckdb.connect() as con:
        report = ingest_feed(con, contract, landing, agencies, None, progress, archive, chunk_rows)
        feed = contract.feed

        def frame(sql: str) -> pd.DataFrame:
            return con.execute(sql, [feed] if "?" in sql else []).df()

        return FeedLoad(
            feed=feed,
            files=frame("select * from meta.files where feed = ?"),
            raw=frame(f"select * from raw.{feed}"),
            versions=frame(f"select * from valid.{feed}_versions"),
            valid=frame(f"select * from valid.{feed}"),
            quarantine=frame("select * from quarantine.rows where feed = ?"),
            report=report,
        )
