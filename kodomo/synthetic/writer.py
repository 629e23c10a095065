"""Writing the landing folder: one CSV per agency, feed and delivery, in the agency's own habits,
plus the file-level accidents of real deliveries (re-sent files, a missing column, a wrong encoding…).

Every file written is returned with the table rows it holds and the physical line each starts on,
which is all the truth needs.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kodomo.contracts import Contract
from kodomo.synthetic.feeds import delivery_label
from kodomo.synthetic.habits import Habits

_FULLWIDTH = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)}


@dataclass
class WrittenFile:
    feed: str
    path: str  # relative to the landing, with '/' separators
    rows: np.ndarray  # table row of each record, in file order
    lines: np.ndarray  # physical line on which each record starts
    day: int  # delivery day
    seq: int
    encoding: str
    quarantine_rule: str = ""  # the file rule that rejects the whole file, if any
    kind: str = "delivery"  # delivery | copy | re_export | correction | broken


@dataclass
class FileIncidents:
    """Which regular files of a feed suffer which accident (keys: (agency, delivery index))."""

    copies: set = field(default_factory=set)
    broken: dict = field(default_factory=dict)  # key -> missing_required_column | undecodable | empty_file
    bad_name: set = field(default_factory=set)
    re_export: set = field(default_factory=set)


def header_text(name: str, style: str) -> str:
    if style == "upper":
        return name.upper()
    if style == "padded":
        return f" {name} "
    if style == "fullwidth":
        return name.translate(_FULLWIDTH)
    return name


@dataclass
class Layout:
    """An agency's export layout for one feed: contract columns kept, their order and extra columns."""

    columns: list[str]  # contract columns and extra columns in file order
    extras: list[str]

    def header(self, style: str) -> list[str]:
        return [c if c in self.extras else header_text(c, style) for c in self.columns]


def agency_layout(contract: Contract, h: Habits, rng: np.random.Generator) -> Layout:
    kept = [c.name for c in contract.columns if not (h.omit_free_text and c.type == "text" and not c.required)]
    if h.shuffle_columns:
        kept = list(rng.permutation(kept))
    columns = list(kept)
    for extra in h.extra_columns:
        columns.insert(int(rng.integers(0, len(columns) + 1)), extra)
    return Layout(columns=columns, extras=list(h.extra_columns))


class FeedWriter:
    def __init__(self, landing: Path, contract: Contract, table: pd.DataFrame, cells: dict[str, np.ndarray],
                 layouts: dict[int, Layout], habits: list[Habits], agency_ids: list[str], delivery_days: np.ndarray,
                 rng: np.random.Generator):
        self.landing, self.contract, self.table, self.cells = landing, contract, table, cells
        self.layouts, self.habits, self.agency_ids, self.delivery_days = layouts, habits, agency_ids, delivery_days
        self.rng = rng
        self.folder = landing / contract.path
        self.folder.mkdir(parents=True, exist_ok=True)
        # Line breaks inside quoted free text make a record span several physical lines.
        self.line_breaks = {c.name: np.array([v.count("\n") for v in cells[c.name]], dtype=np.int64)
                            for c in contract.columns if c.type in ("text", "name")}
        self.malformed = (table["_rule"] == "malformed_row").to_numpy()
        self.duplicate = table["_duplicate"].to_numpy()
        self.groups = table.groupby(["_agency", "_delivery", "_correction"], sort=False).indices
        self.written: list[WrittenFile] = []

    def write_agency(self, agency: int, incidents: FileIncidents) -> None:
        nothing = np.array([], dtype=np.int64)
        for k, day in enumerate(self.delivery_days[agency]):
            rows = np.sort(self.groups.get((agency, k, False), nothing))
            corrections = np.sort(self.groups.get((agency, k, True), nothing))
            seq = 1
            key = (agency, k)
            if key in incidents.broken:
                self._broken(agency, day, seq, rows, incidents.broken[key])
                seq += 1
            ordered = self._with_duplicates(rows)
            data, lines = self._write(agency, day, seq, ordered, "delivery")
            encoding = self.habits[agency].encoding
            if key in incidents.bad_name:  # a copy saved by Windows as "… (2).csv"
                name = f"{self._name(agency, day, seq)[:-4]} (2).csv"
                self._write_bytes(name, day, seq, data, ordered, lines, "bad_file_name", "broken", encoding)
            if key in incidents.copies:  # the same file delivered twice under two names
                seq += 1
                self._write_bytes(self._name(agency, day, seq), day, seq, data, ordered, lines, "", "copy", encoding)
            if key in incidents.re_export:
                seq += 1
                self._write(agency, day, seq, ordered, "re_export")
            if corrections.size:  # the agency re-sends the rows that were rejected, corrected
                self._write(agency, day, seq + 1, corrections, "correction")

    def _with_duplicates(self, rows: np.ndarray) -> np.ndarray:
        """Rows in file order, a duplicated row repeated at a random later place."""
        order = list(rows)
        for row in rows[self.duplicate[rows]]:
            position = order.index(row)
            order.insert(int(self.rng.integers(position + 1, len(order) + 1)), row)
        return np.array(order, dtype=np.int64)

    def _name(self, agency: int, day: int, seq: int) -> str:
        return f"{self.agency_ids[agency]}_{delivery_label(day)}_{seq}.csv"

    def _records(self, columns: list[str], extras: list[str], rows: np.ndarray) -> list[list[str]]:
        n = len(rows)
        values = [self.cells[c][rows] if c not in extras else _extra_values(c, n, self.rng) for c in columns]
        records = np.stack(values, axis=1).tolist() if n else []
        for i in np.flatnonzero(self.malformed[rows]):
            records[i].append("")  # a stray separator: one field more than the header
        return records

    def _write(self, agency: int, day: int, seq: int, rows: np.ndarray, kind: str) -> tuple[bytes, np.ndarray]:
        h = self.habits[agency]
        layout = self.layouts[agency]
        columns = layout.columns
        encoding = h.encoding
        if kind == "re_export":  # the same rows, re-exported by a newer system
            columns, encoding = list(reversed(columns)), "utf-8-sig"
        header = [c if c in layout.extras else header_text(c, h.header_case) for c in columns]
        data = _csv_bytes(header, self._records(columns, layout.extras, rows), h, encoding)
        lines = self._start_lines(rows, columns)
        self._write_bytes(self._name(agency, day, seq), day, seq, data, rows, lines, "", kind, encoding)
        return data, lines

    def _start_lines(self, rows: np.ndarray, columns: list[str]) -> np.ndarray:
        """Physical line of each record: the header is line 1."""
        physical = np.ones(len(rows), dtype=np.int64)
        for column, breaks in self.line_breaks.items():
            if column in columns:
                physical += breaks[rows]
        return 2 + np.concatenate([[0], np.cumsum(physical)]).astype(np.int64)[: len(rows)]

    def _write_bytes(self, name: str, day: int, seq: int, data: bytes, rows: np.ndarray, lines: np.ndarray,
                     rule: str, kind: str, encoding: str) -> None:
        (self.folder / name).write_bytes(data)
        if rule:  # a file quarantined whole: its rows count nowhere
            rows = lines = np.array([], dtype=np.int64)
        self.written.append(WrittenFile(self.contract.feed, f"{self.contract.path}/{name}", rows, lines, day, seq,
                                        encoding, rule, kind))

    def _broken(self, agency: int, day: int, seq: int, rows: np.ndarray, rule: str) -> None:
        """A failed first attempt at a delivery, re-sent right after under the next sequence number."""
        h = self.habits[agency]
        layout = self.layouts[agency]
        encoding = h.encoding
        if rule == "empty_file":
            data, encoding = b"", "none"
        elif rule == "undecodable":  # saved as "Unicode text" (UTF-16) from a spreadsheet
            text = _csv_bytes(layout.header(h.header_case), self._records(layout.columns, layout.extras, rows), h,
                              "utf-8").decode("utf-8")
            data, encoding = text.encode("utf-16"), "utf-16"
            assert not (_decodes(data, "utf-8") or _decodes(data, "cp932")), "UTF-16 file happens to decode"
        else:
            droppable = [c for c in self.contract.required_columns if c != "agency_id"]
            dropped = droppable[int(self.rng.integers(len(droppable)))]
            columns = [c for c in layout.columns if c != dropped]
            header = [c if c in layout.extras else header_text(c, h.header_case) for c in columns]
            data = _csv_bytes(header, self._records(columns, layout.extras, rows), h, h.encoding)
        self._write_bytes(self._name(agency, day, seq), day, seq, data, rows, rows[:0], rule, "broken", encoding)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _csv_bytes(header: list[str], records: list[list[str]], h: Habits, encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=h.newline, quoting=csv.QUOTE_ALL if h.quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue().encode(encoding)


_STAFF = np.array(["山田", "佐藤", "鈴木", "高橋", "田中", "中村", "小林"], dtype=object)


def _extra_values(column: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Content of a column some agencies' systems add; ingestion ignores it."""
    if column == "担当者":
        return _STAFF[rng.integers(0, len(_STAFF), size=n)]
    if column == "備考":
        return np.where(rng.random(n) < 0.1, "要確認", "").astype(object)
    if column == "入力日時":
        return np.full(n, "", dtype=object)
    if column == "system_version":
        return np.full(n, "3.2.1", dtype=object)
    return np.full(n, "有効", dtype=object)
