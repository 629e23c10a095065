"""Reading one delivered file: name, encoding, CSV records with their physical line numbers."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field

from kodomo.contracts import file_rules
from kodomo.parsing.codes import is_agency_id

_FILE_NAME = re.compile(r"(?P<agency>[^_]+)_(?P<date>\d{8})_(?P<seq>\d+)\.csv")
csv.field_size_limit(16 * 1024 * 1024)


class FileRejected(Exception):
    """The whole file is quarantined; ``rule`` is a key of the contracts' file_rules."""

    def __init__(self, rule: str, detail: str):
        if rule not in file_rules():
            raise KeyError(f"{rule!r} is not a file rule of data_contracts/common.yml")
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail


@dataclass(frozen=True)
class Delivery:
    agency_id: str
    date: dt.date
    seq: int


@dataclass
class ReadFile:
    header: list[str]
    records: list[list[str]]
    lines: list[int]
    encoding: str
    line_ending: str
    duplicate_columns: list[str] = field(default_factory=list)


def parse_file_name(name: str) -> Delivery:
    m = _FILE_NAME.fullmatch(name)
    if not m or not is_agency_id(m["agency"]):
        raise FileRejected("bad_file_name", f"{name!r} is not <agency_id>_<YYYYMMDD>_<seq>.csv")
    try:
        day = dt.datetime.strptime(m["date"], "%Y%m%d").date()
    except ValueError:
        raise FileRejected("bad_file_name", f"{name!r} has no real delivery date") from None
    return Delivery(agency_id=m["agency"], date=day, seq=int(m["seq"]))


def decode(data: bytes) -> tuple[str, str]:
    """Detect the encoding the spec allows: UTF-8 (with or without BOM), else CP932 — never shift_jis."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = (("utf-8-sig", "utf-8-sig"),)
    else:
        candidates = (("utf-8", "utf-8"), ("cp932", "cp932"))
    for codec, label in candidates:
        try:
            return data.decode(codec), label
        except UnicodeDecodeError:
            continue
    raise FileRejected("undecodable", "the bytes are neither UTF-8 nor CP932")


def normalise_header(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().lower()


def read_csv_bytes(data: bytes) -> ReadFile:
    text, encoding = decode(data)
    line_ending = "crlf" if "\r\n" in text else "lf"
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    next_line = 1
    try:
        for fields in reader:
            start, next_line = next_line, reader.line_num + 1
            if not fields or fields == [""]:
                continue  # a blank line is not a row
            if header is None:
                header = [normalise_header(f) for f in fields]
                continue
            records.append(fields)
            lines.append(start)
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"line {reader.line_num}: {exc}") from None
    if header is None:
        raise FileRejected("empty_file", "the file has no header row")
    seen: set[str] = set()
    duplicates = [h for h in header if h in seen or seen.add(h)]
    return ReadFile(
        header=header,
        records=records,
        lines=lines,
        encoding=encoding,
        line_ending=line_ending,
        duplicate_columns=duplicates,
    )
