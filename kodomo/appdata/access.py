"""Who may see what of a child: the jurisdiction rules, enforced here, below the pages.

- A jurisdiction is a child guidance centre (CGC) and the municipalities whose ``cgc_id`` it is: together they
  share their children's records, so a user sees in full the records its jurisdiction's agencies hold.
- Anyone working with children at a CGC or a municipality may ask whether a child is known anywhere: which
  agencies hold a record, since when; nothing more.
- Opening the records another jurisdiction holds needs a stated purpose; each such opening is an audit row naming
  the holding agency, which its supervisors read as their flags (``flags_for``).
- Managers see statistics only, data scientists pseudonymous data, admins users and the audit log: none of them
  receives a name or a child-level row from these functions.

Each function takes the signed-in user and what the warehouse says about the subject, and either refuses with
``AccessDenied`` (a refusal, not an empty answer) or writes its audit row and then answers.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
from sqlalchemy import Engine, select

from kodomo.operational import (CASEWORKER, FAMILY_SUPPORT, HEALTH_STAFF, SUPERVISOR, VIEW_INTAKE, AccessEntry,
                                WorkerDecision, audit_log, audited, log_access, record_decision)

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

SEARCH_CHILD, VIEW_CHILD = "search_child", "view_child"
VIEW_OTHER_JURISDICTION, VIEW_FLAGS = "view_other_jurisdiction", "view_flags"
CGC, MUNICIPALITY = "cgc", "municipality"
# The roles that work with named children; the others never receive a child-level row from this module.
CHILD_ROLES = (CASEWORKER, SUPERVISOR, HEALTH_STAFF, FAMILY_SUPPORT)
DECIDING_ROLES = (CASEWORKER, SUPERVISOR)


class AccessDenied(PermissionError):
    """The user may not do or see this; the message says why, in one line."""


@dataclass(frozen=True)
class Agency:
    agency_id: str
    agency_type: str  # cgc / municipality
    name: str
    prefecture_code: str
    cgc_id: str | None  # the CGC covering a municipality

    @property
    def jurisdiction(self) -> str | None:
        """The CGC whose jurisdiction the agency is in (a CGC's own ID)."""
        return self.agency_id if self.agency_type == CGC else self.cgc_id or None


def agencies_from(rows: Iterable[Mapping]) -> dict[str, Agency]:
    """Agencies by ID, from rows of ``marts.agencies`` (or agencies.csv)."""
    return {str(row["agency_id"]): Agency(str(row["agency_id"]), row["agency_type"], row["name"],
                                          str(row["prefecture_code"]), row["cgc_id"] or None) for row in rows}


def load_agencies(con: duckdb.DuckDBPyConnection) -> dict[str, Agency]:
    frame = con.execute("select agency_id, agency_type, name, prefecture_code, cgc_id from marts.agencies").df()
    return agencies_from(frame.astype(object).where(frame.notna(), None).to_dict("records"))


@dataclass(frozen=True)
class Holding:
    """An agency that holds a record of a child, and since when it has known the child."""
    agency_id: str
    since: dt.datetime | None


def load_holdings(con: duckdb.DuckDBPyConnection, person_key: str) -> tuple[Holding, ...]:
    """Who holds a record of the child (``marts.child``), each since its first event known (``marts.child_timeline``),
    else since the child was first seen; empty for a child the warehouse does not know."""
    rows = con.execute("""
        with holders as (
            select unnest(string_split(agency_ids, ';')) as agency_id, first_seen_at
            from marts.child where person_key = $person_key
        ),
        known as (
            select agency_id, min(known_at) as since
            from marts.child_timeline where person_key = $person_key group by agency_id
        )
        select holders.agency_id, coalesce(known.since, holders.first_seen_at)
        from holders left join known using (agency_id)
        order by holders.agency_id""", {"person_key": person_key}).fetchall()
    return tuple(Holding(agency_id, since) for agency_id, since in rows)


@dataclass(frozen=True)
class Grant:
    """What one user was allowed to open of one child (or one intake): the records of these agencies."""
    user_id: str
    person_key: str | None
    agencies: tuple[str, ...]
    purpose: str | None  # stated to open another jurisdiction's records
    flagged: tuple[str, ...]  # the holding agencies outside the user's jurisdiction, whose supervisors are told


def require_role(user: Account, *roles: str) -> None:
    if user.role not in roles:
        raise AccessDenied(f"role {user.role} may not do this (only {', '.join(roles)})")


def _home(user: Account, agencies: Mapping[str, Agency]) -> Agency:
    """The user's agency, which must be a CGC or municipality in a jurisdiction."""
    agency = agencies.get(user.agency_id)
    if agency is None or agency.agency_type not in (CGC, MUNICIPALITY) or agency.jurisdiction is None:
        raise AccessDenied(f"agency {user.agency_id} of user {user.user_id} is not a CGC or municipality in a "
                           "jurisdiction")
    return agency


def in_jurisdiction(user: Account, agency_id: str, agencies: Mapping[str, Agency]) -> bool:
    """Whether an agency's records are shared with the user's agency (same CGC jurisdiction)."""
    holder = agencies.get(agency_id)
    return holder is not None and holder.jurisdiction == _home(user, agencies).jurisdiction


def known_anywhere(engine: Engine, user: Account, person_key: str, holdings: Iterable[Holding],
                   agencies: Mapping[str, Agency]) -> tuple[Holding, ...]:
    """Which agencies hold a record of the child, since when: nothing more. Audited first."""
    require_role(user, *CHILD_ROLES)
    _home(user, agencies)
    log_access(engine, AccessEntry(user.user_id, user.role, SEARCH_CHILD, user.agency_id, person_key=person_key))
    return tuple(sorted(holdings, key=lambda h: h.agency_id))


def open_child(engine: Engine, user: Account, person_key: str, holdings: Iterable[Holding],
               agencies: Mapping[str, Agency], purpose: str | None = None) -> Grant:
    """The child's records the user may open: those its jurisdiction holds; with a stated purpose also those
    other jurisdictions hold (one flagged audit row per holding agency). Refused when nothing would be shown."""
    require_role(user, *CHILD_ROLES)
    holders = sorted({h.agency_id for h in holdings})
    if not holders:
        raise AccessDenied(f"child {person_key}: no agency holds a record")
    own = tuple(a for a in holders if in_jurisdiction(user, a, agencies))
    others = tuple(a for a in holders if a not in own)
    purpose = (purpose or "").strip() or None
    if not own and purpose is None:
        raise AccessDenied(f"child {person_key} is held only outside your jurisdiction ({', '.join(others)}): "
                           "state a purpose to open it; the holding agencies' supervisors will see it")
    flagged = others if purpose else ()
    grant = Grant(user.user_id, person_key, own + flagged, purpose, flagged)
    entries = [AccessEntry(user.user_id, user.role, VIEW_CHILD, user.agency_id, person_key=person_key,
                           detail=";".join(grant.agencies))]
    entries += [AccessEntry(user.user_id, user.role, VIEW_OTHER_JURISDICTION, holder, person_key=person_key,
                            detail=purpose) for holder in flagged]
    log_access(engine, *entries)
    return grant


def open_intake(engine: Engine, user: Account, agency_id: str, report_id: str, person_key: str | None,
                agencies: Mapping[str, Agency], purpose: str | None = None) -> Grant:
    """One intake of the agency that received it: in the user's jurisdiction, or with a stated purpose (flagged)."""
    require_role(user, *CHILD_ROLES)
    purpose = (purpose or "").strip() or None
    if in_jurisdiction(user, agency_id, agencies):
        log_access(engine, AccessEntry(user.user_id, user.role, VIEW_INTAKE, agency_id, report_id, person_key))
        return Grant(user.user_id, person_key, (agency_id,), None, ())
    if purpose is None:
        raise AccessDenied(f"intake {agency_id}/{report_id} is outside your jurisdiction: state a purpose to open "
                           "it; its agency's supervisors will see it")
    log_access(engine, AccessEntry(user.user_id, user.role, VIEW_OTHER_JURISDICTION, agency_id, report_id,
                                   person_key, detail=purpose))
    return Grant(user.user_id, person_key, (agency_id,), purpose, (agency_id,))


def require_own_decision(user: Account, decision: WorkerDecision, agencies: Mapping[str, Agency]) -> None:
    """A caseworker or supervisor records only their own decisions, on intakes of their jurisdiction."""
    require_role(user, *DECIDING_ROLES)
    if decision.worker_id != user.user_id:
        raise AccessDenied(f"user {user.user_id} may record only their own decisions, not {decision.worker_id}'s")
    if not in_jurisdiction(user, decision.agency_id, agencies):
        raise AccessDenied(f"intake {decision.agency_id}/{decision.report_id} is outside your jurisdiction")


def decide(engine: Engine, user: Account, decision: WorkerDecision, agencies: Mapping[str, Agency]) -> None:
    """Record the user's own decision on an intake of the user's jurisdiction (stored with its audit row).
    ``kodomo.intake_entries.record_decision`` also sends it to review when it needs one."""
    require_own_decision(user, decision, agencies)
    record_decision(engine, decision, user.role)


@dataclass(frozen=True)
class Flag:
    """Someone outside the jurisdiction opened a record this agency holds, and why."""
    at: dt.datetime
    user_id: str
    role: str
    person_key: str | None
    report_id: str | None
    purpose: str


def flags_for(engine: Engine, user: Account) -> list[Flag]:
    """Openings of the supervisor's agency's records from outside its jurisdiction, newest first. Audited first,
    in the same transaction as the read."""
    require_role(user, SUPERVISOR)
    query = (select(audit_log.c.at, audit_log.c.user_id, audit_log.c.role, audit_log.c.person_key,
                    audit_log.c.report_id, audit_log.c.detail)
             .where(audit_log.c.action == VIEW_OTHER_JURISDICTION, audit_log.c.agency_id == user.agency_id)
             .order_by(audit_log.c.id.desc()))
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_FLAGS, user.agency_id))
        return [Flag(*row) for row in transaction.con.execute(query)]
