"""The landing folder layout of source-feeds.md §1: which entries are deliveries, which are refused or ignored."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kodomo.contracts import Contract, common


class LandingError(Exception):
    """The landing folder itself is unusable (missing, not a folder, no agencies.csv)."""


@dataclass(frozen=True)
class Entry:
    """A path under a feed's place in the landing that is not read: quarantined (refused) or ignored."""

    rel: str
    status: str  # "quarantined" or "ignored"
    rule: str
    detail: str


def check_landing(landing: Path) -> Path:
    """The landing's real path; a landing without agencies.csv is refused (the spec requires one)."""
    if not landing.is_dir():
        raise LandingError(f"landing folder not found: {landing}")
    if not (landing / "agencies.csv").exists():
        raise LandingError(f"landing folder has no agencies.csv: {landing}")
    return landing.resolve()


def ignored_rules() -> dict[str, str]:
    return dict(common()["ignored_files"])


def _ignored(rel: str, rule: str) -> Entry:
    return Entry(rel, "ignored", rule, ignored_rules()[rule])


def _inside(path: Path, root: Path) -> bool:
    # realpath follows every link in the path without reading the target.
    return Path(os.path.realpath(path)).is_relative_to(root)


def _outside(rel: str, what: str) -> Entry:
    return Entry(rel, "quarantined", "outside_landing", f"{what} leads outside the landing folder; not read")


def feed_files(landing: Path, contract: Contract) -> tuple[list[tuple[str, Path]], list[Entry]]:
    """The feed's deliveries as (path relative to the landing, real path), in name order, and the entries
    that are not read. A missing or empty feed folder is no files.

    A link (or any path) leading outside it is quarantined
    (``outside_landing``) and never opened; an entry of a feed folder that is not a ``*.csv`` file is ignored.
    """
    landing = landing.resolve()
    target = landing / contract.path
    if not contract.is_folder:
        if not (target.exists() or target.is_symlink()):
            return [], []
        if not _inside(target, landing):
            return [], [_outside(contract.path, "the file is a link that")]
        if not target.is_file():
            return [], [_ignored(contract.path, "not_a_file")]
        return [(contract.path, Path(os.path.realpath(target)))], []
    if not (target.exists() or target.is_symlink()):
        return [], []
    if not _inside(target, landing):
        return [], [_outside(contract.path, "the feed folder is a link that")]
    if not target.is_dir():
        return [], [_ignored(contract.path, "not_a_folder")]
    files, refused = [], []
    folder = Path(os.path.realpath(target))
    for entry in sorted(os.scandir(target), key=lambda e: e.name):
        rel, path = f"{contract.path}/{entry.name}", Path(entry.path)
        # Only a link can lead elsewhere: the folder's other entries are inside it (readdir says which is which).
        if entry.is_symlink() and not _inside(path, landing):
            refused.append(_outside(rel, "the file is a link that"))
        elif not entry.is_file():
            refused.append(_ignored(rel, "not_a_file"))
        elif path.suffix.lower() != ".csv":
            refused.append(_ignored(rel, "not_csv"))
        else:
            files.append((rel, Path(os.path.realpath(path)) if entry.is_symlink() else folder / entry.name))
    return files, refused
