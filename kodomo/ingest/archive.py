"""The archive of every delivered file: the landing is a drop zone (source-feeds.md §1 v1.1), the archive is not.

Each file the ingestion reads is kept once, immutable, as ``<archive>/<feed folder>/<name>.<version>.<sha256>``
(``agencies.csv`` at the archive's top). ``version`` numbers the distinct contents delivered under one name in
the order the platform first saw them (``agencies.csv`` is re-delivered with new contents; a feed file
normally never is), so "the later version" survives copying the archive, which file times would not. A file
delivered again with the same name and content is already kept: a no-op.

The app's deliveries (``kodomo.ingest.app_deliveries``: what caseworkers enter, as the records of their agency)
are kept beside the agencies' under ``app/<feed folder>/`` and read with them, so the agencies' names and the
app's never meet and the landing stays the agencies' drop zone.

An entry is written to a temporary name and renamed into place, so a killed run leaves either the whole
entry or none (its temporary file is removed by the next run). Each run loads every archived file of a
feed, so its result is that of one run over every file ever delivered.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_ENTRY = re.compile(r"(?P<name>.+)\.(?P<version>[0-9]{6})\.(?P<sha256>[0-9a-f]{64})")
_TEMPORARY = re.compile(r"\..+\.tmp-[0-9]+")
APP_DELIVERIES = "app"  # the folder of the app's deliveries


class ArchiveError(Exception):
    """An archived file no longer matches its checksum: the archive was altered outside the platform."""


@dataclass(frozen=True)
class ArchivedFile:
    rel: str  # the delivered path, relative to the landing (``case_reports/111007_20210630_1.csv``)
    version: int  # 1 = the first content delivered under this path
    sha256: str
    path: Path

    def read(self) -> bytes:
        data = self.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ArchiveError(f"archived file {self.path} does not match its sha256: the archive was altered")
        return data


class Archive:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _folder(self, rel: str) -> tuple[Path, str]:
        path = PurePosixPath(rel)
        return self.root.joinpath(*path.parent.parts), path.name

    def _entries(self, folder: Path) -> list[ArchivedFile]:
        if not folder.is_dir():
            return []
        prefix = folder.relative_to(self.root).as_posix()
        entries = []
        for path in folder.iterdir():
            if _TEMPORARY.fullmatch(path.name):
                path.unlink(missing_ok=True)  # left by a killed run; runs write one at a time
                continue
            m = _ENTRY.fullmatch(path.name)
            if m and path.is_file():
                rel = m["name"] if prefix == "." else f"{prefix}/{m['name']}"
                entries.append(ArchivedFile(rel, int(m["version"]), m["sha256"], path))
        return entries

    def files(self, feed_path: str, folder: bool) -> list[ArchivedFile]:
        """Every archived version of a feed's files (``folder``: a feed folder, with the app's deliveries to it;
        else one file), by path and version."""
        if folder:
            entries = self._entries(self.root / feed_path) + self._entries(self.root / APP_DELIVERIES / feed_path)
        else:
            entries = [e for e in self._entries(self.root) if e.rel == feed_path]
        return sorted(entries, key=lambda e: (e.rel, e.version))

    def keep(self, delivered: Iterable[tuple[str, bytes]], known: list[ArchivedFile]) -> int:
        """Archive each (path relative to the landing, content) not kept yet; ``known``: the feed's entries,
        extended with the new ones. Returns how many were new."""
        by_path: dict[str, list[ArchivedFile]] = {}
        for entry in known:
            by_path.setdefault(entry.rel, []).append(entry)
        pending = []
        for rel, data in delivered:
            sha256 = hashlib.sha256(data).hexdigest()
            same_path = by_path.get(rel, [])
            if any(e.sha256 == sha256 for e in same_path):
                continue
            folder, name = self._folder(rel)
            version = max((e.version for e in same_path), default=0) + 1
            target = folder / f"{name}.{version:06d}.{sha256}"
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{target.name}.tmp-{os.getpid()}"
            temporary.write_bytes(data)
            os.chmod(temporary, 0o444)
            pending.append((temporary, ArchivedFile(rel, version, sha256, target)))
        if pending:
            os.sync()  # once per batch, not per file: each entry is on disk before its name appears
            for temporary, entry in pending:
                os.replace(temporary, entry.path)
                known.append(entry)
        return len(pending)
