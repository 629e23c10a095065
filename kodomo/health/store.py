"""What health staff and parents do with the health record, kept in the operational store.

- ``health_handover_acks``: a receiving municipality's acknowledgement of a child's health-record handover (one
  per move: the municipality, the child, the day of the move and where from), append-only;
- ``parent_access_codes``: a one-time access code a municipality's health staff issue for one child, with which
  a parent opens that child's health record and nothing else (as マイナポータル shows a family its checkups and
  vaccinations). As with the consultation codes (``kodomo.onestop.consultations``), only
  HMAC-SHA256(``Settings.app_secret``, code) is stored; a code opens the record until it expires or is revoked;
  a wrong, expired and revoked code get the same answer, and every use, refused or not, is an audit row.

The tables are defined in ``kodomo.operational``; revision 0005 of ``kodomo.migrations`` creates them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import duckdb
from sqlalchemy import Engine, insert, select, update

from kodomo.appdata.access import AccessDenied, load_agencies, require_role
from kodomo.appdata.accounts import Account
from kodomo.health.access import holding_agencies_in_jurisdiction
from kodomo.health.record import HEALTH_RECORD, Checkup, Dose, HealthRecord, data_end, health_record
from kodomo.onestop.consultations import new_code
from kodomo.operational import (HEALTH_STAFF, PARENT, AccessEntry, audited, health_handover_acks, log_access,
                                parent_access_codes)
from kodomo.settings import Settings

PARENT_CODE_VALID_FOR = dt.timedelta(days=90)  # from one checkup or vaccination visit to the next
ISSUE_PARENT_CODE, REVOKE_PARENT_CODE = "issue_parent_health_code", "revoke_parent_health_code"
PARENT_VIEW_HEALTH, PARENT_CODE_REFUSED = "parent_view_health_record", "parent_health_code_refused"
VIEW_HANDOVERS, ACKNOWLEDGE_HANDOVER = "view_health_handovers", "acknowledge_health_handover"

class AccessCodeNotValid(LookupError):
    """The same answer for a wrong, expired and revoked access code."""

    def __init__(self):
        super().__init__("the access code is wrong, has expired or was withdrawn")


def _code_hash(settings: Settings, code: str) -> str:
    # Spaces and hyphens are how people group a code they copy; case is how phones capitalise it.
    typed = "".join(code.split()).replace("-", "").upper()
    return hmac.new(settings.app_secret, b"health:" + typed.encode(), hashlib.sha256).hexdigest()


def _utc(at: dt.datetime) -> dt.datetime:
    """SQLite returns times naive, in UTC."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


def _own_municipality(con: duckdb.DuckDBPyConnection, user: Account) -> None:
    agency = load_agencies(con).get(user.agency_id)
    if agency is None or agency.agency_type != "municipality":
        raise AccessDenied(f"agency {user.agency_id} of user {user.user_id} is not a municipality")


# --- parent access codes

def issue_parent_code(engine: Engine, settings: Settings, con: duckdb.DuckDBPyConnection, user: Account,
                      person_key: str, valid_for: dt.timedelta = PARENT_CODE_VALID_FOR) -> tuple[int, str]:
    """A code for the parents of one child, issued by health staff of a municipality whose jurisdiction holds the
    child's record: its id and the code (shown once: only its keyed hash is kept). Audited."""
    _own_municipality(con, user)
    holding_agencies_in_jurisdiction(con, user, person_key)
    health_record(con, person_key)  # a child without a health record gets no code (NoHealthRecord)
    code = new_code()
    with audited(engine) as transaction:
        stored = transaction.con.execute(insert(parent_access_codes).values(
            agency_id=user.agency_id, person_key=person_key, code_hash=_code_hash(settings, code),
            issued_at=transaction.now, issued_by=user.user_id, expires_at=transaction.now + valid_for))
        [code_id] = stored.inserted_primary_key
        transaction.log(AccessEntry(user.user_id, user.role, ISSUE_PARENT_CODE, user.agency_id, person_key=person_key,
                                    detail=f"code {code_id}"))
    return code_id, code


def revoke_parent_code(engine: Engine, user: Account, code_id: int) -> None:
    """Withdraw a code the user's municipality issued; from then on it opens nothing. Audited."""
    require_role(user, HEALTH_STAFF)
    with audited(engine) as transaction:
        row = transaction.con.execute(select(parent_access_codes).where(parent_access_codes.c.id == code_id)
                                      ).one_or_none()
        if row is None or row.agency_id != user.agency_id:
            raise AccessDenied(f"access code {code_id} was not issued by {user.agency_id}")
        if row.revoked_at is None:
            transaction.con.execute(update(parent_access_codes).where(parent_access_codes.c.id == code_id)
                                    .values(revoked_at=transaction.now, revoked_by=user.user_id))
        transaction.log(AccessEntry(user.user_id, user.role, REVOKE_PARENT_CODE, user.agency_id,
                                    person_key=row.person_key, detail=f"code {code_id}"))


def parent_health_record(engine: Engine, settings: Settings, con: duckdb.DuckDBPyConnection, code: str,
                         as_of: dt.date | None = None) -> HealthRecord:
    """The health record of the one child the code was issued for, as of a date (default: the data's end). The
    use is an audit row before the record is returned; a refused code is one too (no child named)."""
    with audited(engine) as transaction:
        row = transaction.con.execute(select(parent_access_codes).where(
            parent_access_codes.c.code_hash == _code_hash(settings, code))).one_or_none()
        valid = (row is not None and row.revoked_at is None
                 and _utc(row.expires_at) > _utc(transaction.now))
        if valid:
            transaction.log(AccessEntry(PARENT, PARENT, PARENT_VIEW_HEALTH, row.agency_id, person_key=row.person_key,
                                        detail=f"code {row.id}"))
    if not valid:
        log_access(engine, AccessEntry(PARENT, PARENT, PARENT_CODE_REFUSED))
        raise AccessCodeNotValid()
    return health_record(con, row.person_key, as_of)


# --- the handover to the municipality a child moved to

@dataclass(frozen=True)
class Handover:
    """A child who moved into the municipality, with what the previous municipality recorded of its health."""
    person_key: str
    moved_on: dt.date
    from_agency_id: str
    from_agency_name: str | None  # None: a municipality outside the region, whose records the data does not hold
    known_at: dt.datetime  # when the move was on record
    checkups: tuple[Checkup, ...]  # the previous municipality's
    doses_given: tuple[Dose, ...]  # reported by the previous municipality
    due_next: tuple[Dose, ...]
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None


_MOVES_IN = f"""
    with moves as (
        select person_key, event_type, event_date, from_municipality_code, known_at
        from marts.child_timeline
        where event_type in ('move_in', 'move_out') and to_municipality_code = $agency
            and person_key in (select person_key from {HEALTH_RECORD})
    ),
    moved_in as (
        select * from moves where event_type = 'move_in'
    ),
    -- the origin's move_out, where the destination reported no move_in within 31 days of it
    moved_out_only as (
        select * from moves as out
        where event_type = 'move_out' and not exists (
            select 1 from moved_in
            where moved_in.person_key = out.person_key
                and moved_in.from_municipality_code = out.from_municipality_code
                and abs(date_diff('day', moved_in.event_date, out.event_date)) <= 31)
    )
    select person_key, event_date as moved_on, from_municipality_code, min(known_at) as known_at
    from (select * from moved_in union all select * from moved_out_only)
    where event_date <= $as_of
    group by all
    order by moved_on desc, person_key"""


def handover_worklist(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account,
                      as_of: dt.date | None = None) -> list[Handover]:
    """The children who moved into the user's municipality (newest first), each with the previous municipality's
    checkups and doses, what is due next as of ``as_of`` (default: the data's end) and whether the handover was
    acknowledged. For the municipality's health staff; audited first."""
    require_role(user, HEALTH_STAFF)
    _own_municipality(con, user)
    as_of = as_of or data_end(con)
    agencies = load_agencies(con)
    moves = con.execute(_MOVES_IN, {"agency": user.agency_id, "as_of": as_of}).fetchall()
    log_access(engine, AccessEntry(user.user_id, user.role, VIEW_HANDOVERS, user.agency_id,
                                   detail=f"{len(moves)} children as of {as_of}"))
    with engine.connect() as store:
        acks = {(r.person_key, r.moved_on, r.from_agency_id): r for r in store.execute(
            select(health_handover_acks).where(health_handover_acks.c.agency_id == user.agency_id))}
    handovers = []
    for person_key, moved_on, from_agency, known_at in moves:
        record = health_record(con, person_key, as_of)
        ack = acks.get((person_key, moved_on, from_agency))
        origin = agencies.get(from_agency)
        handovers.append(Handover(
            person_key, moved_on, from_agency, origin.name if origin else None, known_at,
            tuple(c for c in record.checkups if c.agency_id == from_agency),
            tuple(d for d in record.given if d.agency_id == from_agency), record.due_next,
            _utc(ack.acknowledged_at) if ack else None, ack.acknowledged_by if ack else None))
    return handovers


def acknowledge_handover(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
                         moved_on: dt.date, from_agency_id: str) -> None:
    """The receiving municipality's health staff acknowledge a child's handover (once). Audited."""
    require_role(user, HEALTH_STAFF)
    _own_municipality(con, user)
    moves = con.execute(_MOVES_IN, {"agency": user.agency_id, "as_of": dt.date.max}).fetchall()
    if (person_key, moved_on, from_agency_id) not in {m[:3] for m in moves}:
        raise ValueError(f"handover: child {person_key} did not move from {from_agency_id} to {user.agency_id} "
                         f"on {moved_on}")
    key = (health_handover_acks.c.agency_id == user.agency_id, health_handover_acks.c.person_key == person_key,
           health_handover_acks.c.moved_on == moved_on, health_handover_acks.c.from_agency_id == from_agency_id)
    with audited(engine) as transaction:
        if transaction.con.execute(select(health_handover_acks.c.id).where(*key)).first() is not None:
            raise ValueError(f"handover: child {person_key}'s move of {moved_on} was already acknowledged")
        transaction.con.execute(insert(health_handover_acks).values(
            agency_id=user.agency_id, person_key=person_key, moved_on=moved_on, from_agency_id=from_agency_id,
            acknowledged_at=transaction.now, acknowledged_by=user.user_id))
        transaction.log(AccessEntry(user.user_id, user.role, ACKNOWLEDGE_HANDOVER, user.agency_id,
                                    person_key=person_key, detail=f"moved {moved_on} from {from_agency_id}"))
