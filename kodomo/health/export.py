"""``kodomo export-health``: one child's health record as a FHIR Bundle (JSON), from the published warehouse.

The command line is the operators' tool on the server (../shared/spec/command-line.md): it does not sign in, and
the export is an audit row of the operator (``SYSTEM_USER``) naming the child, written before the file.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from kodomo.appdata.warehouse import read_only
from kodomo.health.fhir import fhir_bundle
from kodomo.health.record import health_record
from kodomo.operational import SYSTEM, SYSTEM_USER, AccessEntry, connect, log_access
from kodomo.settings import Settings

EXPORT_HEALTH = "export_health_record"


def export_health(settings: Settings, person_key: str, out: Path, as_of: dt.date | None = None,
                  operator: str = SYSTEM_USER) -> dict:
    """Write the child's record as of ``as_of`` (default: the data's end) to ``out`` as a FHIR Bundle; the bundle.
    The file appears whole or not at all (written beside it, then renamed)."""
    with read_only(settings.warehouse_path) as con:
        bundle = fhir_bundle(health_record(con, person_key, as_of))
    engine = connect(settings)
    try:
        log_access(engine, AccessEntry(operator, SYSTEM, EXPORT_HEALTH, person_key=person_key,
                                       detail=f"as of {bundle['identifier']['value'].rsplit('/', 1)[1]} to {out}"))
    finally:
        engine.dispose()
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, out)
    return bundle
