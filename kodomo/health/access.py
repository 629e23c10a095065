"""Who may open a child's health record: the health staff of a municipality whose jurisdiction (its CGC and the
CGC's municipalities, ``kodomo.appdata.access``) holds a record of the child. Others are refused with
``AccessDenied``; every opening is an audit row, written before the record is returned."""
from __future__ import annotations

import datetime as dt

import duckdb
from sqlalchemy import Engine

from kodomo.appdata.access import AccessDenied, in_jurisdiction, load_agencies, load_holdings, require_role
from kodomo.appdata.accounts import Account
from kodomo.health.record import HealthRecord, health_record
from kodomo.operational import HEALTH_STAFF, AccessEntry, log_access

VIEW_HEALTH_RECORD = "view_health_record"


def holding_agencies_in_jurisdiction(con: duckdb.DuckDBPyConnection, user: Account, person_key: str) -> tuple[str, ...]:
    """The agencies of the user's jurisdiction that hold a record of the child; refused when there are none."""
    require_role(user, HEALTH_STAFF)
    agencies = load_agencies(con)
    holders = tuple(h.agency_id for h in load_holdings(con, person_key) if in_jurisdiction(user, h.agency_id, agencies))
    if not holders:
        raise AccessDenied(f"child {person_key}: no agency of your jurisdiction holds a record")
    return holders


def open_health_record(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
                       as_of: dt.date | None = None) -> HealthRecord:
    """The child's health record as of a date, for health staff of a holding jurisdiction. Audited first."""
    holders = holding_agencies_in_jurisdiction(con, user, person_key)
    record = health_record(con, person_key, as_of)
    log_access(engine, AccessEntry(user.user_id, user.role, VIEW_HEALTH_RECORD, user.agency_id,
                                   person_key=person_key, detail=f"as of {record.as_of}; held by {';'.join(holders)}"))
    return record
