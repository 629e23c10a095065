"""Load one feed in bounded memory: every file ever delivered (the archive) or in the landing.

Each delivered file is read once, in batches of files, its records validated and quarantined with the feed's
contract in chunks, and its checked rows appended to the feed's staging store (``kodomo.ingest.staging``). With
enough new files, worker processes read and check the next batches while this process stages the last one. A later
run reads only the files the staging store has not seen, so a day's delivery costs what its own files cost. The
warehouse's tables (raw, valid, versions, quarantine, meta.files and the report) are then derived from the whole
staging store by SQL, where the latest-version rule and the quarantine's resolution see every file at once
(``kodomo.ingest.store``).
"""
from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from kodomo.contracts import Contract
from kodomo.ingest.archive import Archive
from kodomo.ingest.landing import Entry, feed_files
from kodomo.ingest.reader import FileRejected, ReadFile, parse_file_name, read_csv_bytes
from kodomo.ingest.staging import FILE_COLUMNS, Stage, StagedFile, raw_column
from kodomo.ingest.store import publish_feed
from kodomo.ingest.validate import check_rows

#: Records validated and staged at once: peak memory follows this, never a file's or a landing's size.
CHUNK_ROWS = 50_000
#: Delivered bytes read and checked as one batch (a larger file is a batch alone); batches are staged whole.
BATCH_BYTES = 8 * 2**20
#: Rows staged per transaction, at least: DuckDB writes the row groups (122,880 rows) of a large transaction straight
#: to the file, a small one to its log and then again at the checkpoint that follows (national: 16 of the staging's
#: 21 s went on commits of 60,000 rows).
COMMIT_ROWS = 250_000
#: New bytes below which a feed is checked in this process: starting a worker process costs about half a second.
POOL_BYTES = 24 * 2**20
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
    size: int  # bytes
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
        return [_Delivered(rel, 1, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size,
                           path.read_bytes) for rel, path in files], refused
    known = archive.files(contract.path, contract.is_folder)
    new = archive.keep(((rel, path.read_bytes()) for rel, path in files), known)
    if new:
        progress(f"{contract.feed}: archived {new} new file(s) in {archive.root}")
    known.sort(key=lambda e: (e.rel, e.version))
    return [_Delivered(e.rel, e.version, e.sha256, e.path.stat().st_size, e.read) for e in known], refused


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
                  dated: bool) -> pa.Table:
    """A chunk of records (of one or several files) as staged rows: typed values, delivered text, lineage, rule.

    Built as Arrow arrays straight from the checked arrays: through a pandas frame, every text column would be
    converted twice.
    """
    delivered_text = {c: columns[c] for c in contract.column_names}
    text = pd.DataFrame({c: np.where(v == _ABSENT, "", v) for c, v in delivered_text.items()}, dtype=object)
    delivery_date = pd.Series(columns["_delivery_date"]) if dated else None
    checked = check_rows(contract, text, delivery_date, agencies)
    invalid = checked.invalid.to_numpy()
    staged = {name: pa.Array.from_pandas(values) for name, values in checked.values.items()}
    for name, values in delivered_text.items():
        staged[raw_column(name)] = pa.array(np.where(values == _ABSENT, None, values), pa.string())
    for name in ("_file", "_line", "_delivery_date", "_seq", "_arrival"):
        staged[name] = pa.Array.from_pandas(columns[name])
    staged["_rule"] = pa.Array.from_pandas(checked.rule)
    staged["_column"] = pa.Array.from_pandas(checked.column)
    staged["_violations"] = pa.Array.from_pandas(checked.violations)
    staged["_raw_text"] = _invalid_only(invalid, lambda i: _csv_line(
        [delivered_text[c][i] for c in contract.column_names if delivered_text[c][i] != _ABSENT]))
    # Identity of a row's content: its text per contract column in name order (absent ≠ empty).
    staged["_distinct"] = _invalid_only(invalid, lambda i: "\x1f".join(
        str(delivered_text[c][i]) for c in sorted(contract.column_names)))
    return pa.table(staged)


def _invalid_only(invalid: np.ndarray, text_of: Callable[[int], str]) -> pa.Array:
    out = np.full(len(invalid), None, dtype=object)
    for i in np.flatnonzero(invalid):
        out[i] = text_of(int(i))
    return pa.array(out, pa.string())


@dataclass
class _CheckedBatch:
    """A batch of files as read and checked, ready to be staged whole."""

    files: list[tuple[StagedFile, dict]]  # every file of the batch, in order, with its meta.files row
    malformed: list[dict]
    chunks: list[pa.Table]  # the staged rows of the well-formed records, at most ``chunk_rows`` per chunk
    notes: list[str]  # what to tell the operator (files quarantined whole)


def _batches(deliveries: list[_Delivered], batch_bytes: int) -> list[list[_Delivered]]:
    """Consecutive deliveries of about ``batch_bytes`` together (a larger file is a batch of its own)."""
    batches: list[list[_Delivered]] = []
    size = batch_bytes
    for delivered in deliveries:
        if size + delivered.size > batch_bytes:
            batches.append([])
            size = 0
        batches[-1].append(delivered)
        size += delivered.size
    return batches


def _check_batch(contract: Contract, agencies: frozenset[str], batch: list[_Delivered],
                 chunk_rows: int) -> _CheckedBatch:
    """Read and check a batch of files; their records are checked together, ``chunk_rows`` at a time.

    Pure and picklable, so that worker processes can check batches while the caller stages the ones before.
    """
    checked = _CheckedBatch([], [], [], [])
    pieces: list[dict[str, np.ndarray]] = []
    for delivered in batch:
        info = _file_info(contract, delivered.rel)
        checked.files.append((delivered.staged, info))
        try:
            read, delivery = _read_file(contract, delivered, info)
        except FileRejected as rejected:
            info.update(status="quarantined", rule=rejected.rule, detail=rejected.detail)
            checked.notes.append(f"{delivered.rel}: file quarantined ({rejected.rule}: {rejected.detail})")
            continue
        extras = [h for h in dict.fromkeys(read.header) if h not in contract.column_names]
        if extras:
            info["extra_columns"] = ",".join(extras)  # reported per file in meta.files; their values are not kept
        pieces.append(_file_columns(contract, read, delivered, delivery))
        checked.malformed += _malformed_rows(contract, read, delivered)
    if pieces:
        columns = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        for start in range(0, len(columns["_line"]), chunk_rows):
            chunk = {k: v[start:start + chunk_rows] for k, v in columns.items()}
            checked.chunks.append(_checked_rows(contract, chunk, agencies, contract.is_folder))
    return checked


def _in_order(check: Callable[[list[_Delivered]], _CheckedBatch], batches: list[list[_Delivered]],
              workers: int) -> Iterator[_CheckedBatch]:
    """``check`` of each batch, in order: in this process, or in ``workers`` processes with at most two batches
    each waiting, so memory stays bounded whatever the landing's size."""
    if workers <= 1:
        yield from map(check, batches)
        return
    # spawn, not fork: the caller holds DuckDB's threads and locks, which a forked child would inherit mid-use
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending: deque[Future] = deque()
        for batch in batches:
            pending.append(pool.submit(check, batch))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def _stage_new_files(stage: Stage, contract: Contract, deliveries: list[_Delivered], agencies: frozenset[str],
                     chunk_rows: int, batch_bytes: int, commit_rows: int, workers: int,
                     progress: Callable[[str], None]) -> None:
    """Stage the files the staging store does not hold, whole batches per transaction of at least ``commit_rows``
    rows (or the last): every file is staged whole or not at all, and a day of small files costs one transaction."""
    known = stage.files()
    new = [d for d in deliveries if d.staged not in known]
    if sum(d.size for d in new) < POOL_BYTES:
        workers = 1
    check = partial(_check_batch, contract, agencies, chunk_rows=chunk_rows)
    uncommitted = 0
    for checked in _in_order(check, _batches(new, batch_bytes), workers):
        for note in checked.notes:
            progress(note)
        for chunk in checked.chunks:
            stage.append_rows(chunk)
            uncommitted += chunk.num_rows
        stage.append_files(checked.files, checked.malformed)
        if uncommitted >= commit_rows:
            stage.commit()
            uncommitted = 0
    stage.commit()


def ingest_feed(
    con: duckdb.DuckDBPyConnection, contract: Contract, landing: Path, agencies: frozenset[str],
    staging: Path | None = None, progress: Callable[[str], None] = lambda _: None, archive: Archive | None = None,
    chunk_rows: int = CHUNK_ROWS, *, batch_bytes: int = BATCH_BYTES, commit_rows: int = COMMIT_ROWS,
    workers: int = 1, incremental: bool = False,
) -> dict:
    """Load the feed from ``landing`` (resolved) and, given an ``archive``, from every file archived before, into the
    warehouse ``con``; return the feed's report.

    ``staging`` is the feed's staging store (a DuckDB file kept between runs; in memory if None): files it already
    holds, checked under the same contract and agencies, are not read again. New files are read and checked in
    batches of about ``batch_bytes``, by ``workers`` processes when there are enough of them to pay.
    ``incremental`` (a delivery's run): the warehouse's tables are updated with the new files' keys rather than
    derived again whole, when they were derived from this staging store (``kodomo.ingest.store``).
    """
    deliveries, refused = _deliveries(contract, landing, archive, progress)
    for entry in refused:
        progress(f"{entry.rel}: file {entry.status} ({entry.rule}: {entry.detail})")
    with Stage.attach(con, contract, agencies, staging) as stage:
        stage.keep_only([d.staged for d in deliveries])
        _stage_new_files(stage, contract, deliveries, agencies, chunk_rows, batch_bytes, commit_rows, workers,
                         progress)
        refused_files = [_file_info(contract, e.rel, status=e.status, rule=e.rule, detail=e.detail) for e in refused]
        report = publish_feed(con, contract, stage, refused_files, incremental)
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
