"""The landing folder layout of source-feeds.md §1."""
from __future__ import annotations

from pathlib import Path

from kodomo.contracts import Contract


class LandingError(Exception):
    """The landing folder itself is unusable (missing, not a folder, no agencies.csv)."""


def check_landing(landing: Path) -> Path:
    if not landing.is_dir():
        raise LandingError(f"landing folder not found: {landing}")
    if not (landing / "agencies.csv").is_file():
        raise LandingError(f"landing folder has no agencies.csv: {landing}")
    return landing


def feed_files(landing: Path, contract: Contract) -> list[Path]:
    """The feed's delivered files, in name order; a missing or empty feed folder is no files."""
    target = landing / contract.path
    if not contract.is_folder:
        return [target] if target.is_file() else []
    if not target.is_dir():
        return []
    return sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
