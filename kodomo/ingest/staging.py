"""A feed's staging store: every delivered file's checked rows, kept between runs so that each file is read once.

One DuckDB database per feed (``$KODOMO_HOME/staging/<feed>.duckdb``), attached to the warehouse's connection
while the feed is ingested. It holds, per staged file (path, archive version, sha256), its meta.files row, its
well-formed records (typed values, delivered text, lineage, primary rule) and its malformed records. A file is
staged whole in one transaction (with others), so a run killed midway leaves whole files only.

A row's validity depends on the contract and, for agency references, on the agencies known; the store remembers
both (``fingerprint``) and starts again when either changes, so a staged file is always what reading it now
would give.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from kodomo.contracts import LINEAGE_COLUMNS, Contract

#: Columns of meta.files: how each file was read, or why it was quarantined or ignored.
FILE_COLUMNS = ("feed", "file", "status", "rule", "detail", "encoding", "line_ending", "rows", "extra_columns",
                "sha256")
MALFORMED_COLUMNS = ("_file", "_arrival", "_line", "_violations", "_raw_text", "_distinct")
#: Bumped when what is staged per file changes: an older store is then rebuilt, not misread.
FORMAT = 1
_TYPES = {"date": "DATE", "datetime": "TIMESTAMP", "integer": "INTEGER", "decimal": "DOUBLE"}


def duckdb_type(column_type: str) -> str:
    return _TYPES.get(column_type, "VARCHAR")


def raw_column(name: str) -> str:
    """The staged column holding a contract column's delivered text (the typed value keeps the plain name)."""
    return f"raw__{name}"


@dataclass(frozen=True)
class StagedFile:
    rel: str
    version: int
    sha256: str


def fingerprint(contract: Contract, agencies: frozenset[str]) -> str:
    text = json.dumps([FORMAT, repr(contract), sorted(agencies)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _rows_ddl(contract: Contract, table: str) -> str:
    lineage = {c.name: c.duckdb_type for c in LINEAGE_COLUMNS}
    columns = [f'"{c.name}" {duckdb_type(c.type)}' for c in contract.columns]
    columns += [f'"{raw_column(c)}" VARCHAR' for c in contract.column_names]
    columns += [f'"{name}" {kind}' for name, kind in lineage.items()]
    columns += ['"_arrival" INTEGER', '"_rule" VARCHAR', '"_column" VARCHAR', '"_violations" VARCHAR',
                '"_raw_text" VARCHAR', '"_distinct" VARCHAR']
    return f"create table if not exists {table} ({', '.join(columns)})"


class Stage:
    """The feed's staging store, attached to ``con`` as ``name``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, contract: Contract, name: str, fingerprint: str):
        self.con = con
        self.contract = contract
        self.name = name
        self.fingerprint = fingerprint  # what the staged rows were checked under: the contract and the agencies
        self._open = False  # a transaction of staged files is open

    @classmethod
    @contextlib.contextmanager
    def attach(cls, con: duckdb.DuckDBPyConnection, contract: Contract, agencies: frozenset[str],
               path: Path | None) -> Iterator[Stage]:
        name = f"stage_{contract.feed}"
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"attach '{path if path is not None else ':memory:'}' as {name}")
        try:
            stage = cls(con, contract, name, fingerprint(contract, agencies))
            stage._prepare()
            try:
                yield stage
            finally:
                if stage._open:  # files not committed are not staged
                    con.execute("rollback")
        finally:
            con.execute(f"detach {name}")

    @property
    def rows(self) -> str:
        return f"{self.name}.rows"

    @property
    def malformed(self) -> str:
        return f"{self.name}.malformed"

    @property
    def file_table(self) -> str:
        return f"{self.name}.files"

    def _prepare(self) -> None:
        state = f"{self.name}.state"
        self.con.execute(f"create table if not exists {state} (fingerprint varchar)")
        stored = self.con.execute(f"select fingerprint from {state}").fetchone()
        self.con.execute("begin")
        if stored is None or stored[0] != self.fingerprint:
            for table in ("rows", "malformed", "files"):
                self.con.execute(f"drop table if exists {self.name}.{table}")
            self.con.execute(f"delete from {state}")
            self.con.execute(f"insert into {state} values (?)", [self.fingerprint])
        self.con.execute(_rows_ddl(self.contract, self.rows))
        self.con.execute(f"create table if not exists {self.malformed} (_file varchar, _arrival integer, "
                         "_line integer, _violations varchar, _raw_text varchar, _distinct varchar)")  # MALFORMED_COLUMNS
        info = ", ".join(f'"{c}" {"INTEGER" if c == "rows" else "VARCHAR"}' for c in FILE_COLUMNS)
        self.con.execute(f"create table if not exists {self.file_table} ({info}, version integer, "
                         "primary key (file, version))")
        self.con.execute("commit")

    def files(self) -> set[StagedFile]:
        rows = self.con.execute(f"select file, version, sha256 from {self.file_table}").fetchall()
        return {StagedFile(*row) for row in rows}

    def keep_only(self, delivered: list[StagedFile]) -> None:
        """Forget staged files that are not delivered (any more, or with other content)."""
        gone = self.files() - set(delivered)
        if not gone:
            return
        self.con.execute("begin")
        for f in gone:
            for table in (self.rows, self.malformed):
                self.con.execute(f"delete from {table} where _file = ? and _arrival = ?", [f.rel, f.version])
            self.con.execute(f"delete from {self.file_table} where file = ? and version = ?", [f.rel, f.version])
        self.con.execute("commit")

    def append_rows(self, checked: pa.Table) -> None:
        """Append checked rows in the open transaction (opened by the first write after a commit)."""
        self._begin()
        self._append(self.rows, checked, self._row_select())

    def append_files(self, files: list[tuple[StagedFile, dict]], malformed: list[dict]) -> None:
        """Append staged files' meta rows and their malformed records in the open transaction."""
        self._begin()
        self._append(self.malformed, pd.DataFrame(malformed, columns=list(MALFORMED_COLUMNS)), "*")
        frame = pd.DataFrame([[info[c] for c in FILE_COLUMNS] + [staged.version] for staged, info in files],
                             columns=[*FILE_COLUMNS, "version"])
        self._append(self.file_table, frame, "*")

    def commit(self) -> None:
        if self._open:
            self.con.execute("commit")
            self._open = False

    def _begin(self) -> None:
        if not self._open:
            self.con.execute("begin")
            self._open = True

    def _row_select(self) -> str:
        typed = [f'cast("{c.name}" as {duckdb_type(c.type)})' for c in self.contract.columns]
        rest = [f'"{raw_column(c)}"' for c in self.contract.column_names]
        rest += [f'cast("{c.name}" as {c.duckdb_type})' for c in LINEAGE_COLUMNS]
        rest += ['"_arrival"', '"_rule"', '"_column"', '"_violations"', '"_raw_text"', '"_distinct"']
        return ", ".join(typed + rest)

    def _append(self, table: str, frame: pd.DataFrame | pa.Table, select: str) -> None:
        if len(frame) == 0:
            return
        name = f"_chunk_{id(frame):x}"
        self.con.register(name, frame)
        try:
            self.con.execute(f"insert into {table} select {select} from {name}")
        finally:
            self.con.unregister(name)
