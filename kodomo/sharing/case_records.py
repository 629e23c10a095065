"""The case record (児童記録票) each holding agency keeps of a child it works with, shared across agencies.

A CGC receiving a report at night finds the municipality's record through the search and reads exactly this: the
address, the institutions the child attends with a contact, the household and its situation, the support plan and
its status, the worker in charge. One record per agency and child; every save is a new version (the version kept
whole in ``case_record_versions``), optimistically locked like an app intake: a save names the version it was
opened at, and a save over a newer one is refused (``StaleCaseRecord``), never merged or overwritten.

**Access.** Caseworkers and supervisors of a CGC or municipality keep their agency's record of a child whose records
their jurisdiction holds (``kodomo.appdata.access``), or of whom their agency already keeps one. Reading is through
the ``Grant`` of ``open_child``: the records of the agencies it opened. Every save writes its version, its audit row
and the notifications of the other agencies holding the child in one transaction; every read is audited first.

**Keys.** A record stores one of the child's records as its anchor (``kodomo.sharing.anchors``); after each run
``rekey_case_records`` moves a record whose child got another person key to that key, so nothing kept is orphaned.
"""
from __future__ import annotations

import datetime as dt
import logging
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, NamedTuple

import duckdb
from sqlalchemy import Engine, RowMapping, insert, select, update

from kodomo.appdata.access import (DECIDING_ROLES, Agency, AccessDenied, Grant, Holding, in_jurisdiction,
                                   load_holdings, require_role)
from kodomo.intake_entries import JAPAN
from kodomo.operational import (HEALTH_STAFF, PLAN_STATUSES, SYSTEM, SYSTEM_USER, AccessEntry, AuditedTransaction,
                                audited, connect)
from kodomo.operational import case_record_versions as versions_table
from kodomo.operational import case_records as case_records_table
from kodomo.parsing.codes import is_municipality_code
from kodomo.settings import Settings
from kodomo.sharing.anchors import anchor_of, current_keys
from kodomo.sharing.notifications import case_record_keepers, notify

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

log = logging.getLogger(__name__)
INSTITUTION_KINDS = ("nursery", "kindergarten", "school", "other")
ENTER_CASE_RECORD, UPDATE_CASE_RECORD = "enter_case_record", "update_case_record"
VIEW_CASE_RECORDS = "view_case_records"
READING_ROLES = (*DECIDING_ROLES, HEALTH_STAFF)
_TEXT_FIELDS = ("address", "household", "situation", "support_plan")
_USER_ID_LENGTH = case_records_table.c.worker_id.type.length


@dataclass(frozen=True)
class Institution:
    kind: str  # one of INSTITUTION_KINDS
    name: str
    contact: str


@dataclass(frozen=True)
class CaseRecordContent:
    address: str
    address_municipality_code: str
    institutions: tuple[Institution, ...]
    household: str
    situation: str
    support_plan: str
    plan_status: str  # open | closed
    worker_id: str  # the worker in charge


FIELDS = tuple(CaseRecordContent.__dataclass_fields__)


@dataclass(frozen=True)
class CaseRecord:
    id: int
    agency_id: str
    person_key: str
    version: int
    content: CaseRecordContent
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime


class CaseRecordVersion(NamedTuple):
    """One saved version of an agency's case record, for the child's timeline."""
    agency_id: str
    version: int
    saved_at: dt.datetime
    saved_by: str


class InvalidCaseRecord(ValueError):
    """Content with bad values: ``errors`` maps each bad field (``institutions[i].kind`` for an institution's) to
    one line naming the field and what is wrong."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class StaleCaseRecord(Exception):
    """The case record was saved by someone else since this user opened it (or exists already): nothing saved."""

    def __init__(self, agency_id: str, person_key: str, opened: int | None, current: int, changed_by: str,
                 changed_at: dt.datetime):
        self.current_version, self.changed_by, self.changed_at = current, changed_by, _aware(changed_at)
        when = f"{self.changed_at.astimezone(JAPAN):%Y-%m-%d %H:%M:%S}"
        if opened is None:
            told = (f"agency {agency_id} already keeps a case record of child {person_key} (version {current}, "
                    f"saved by {changed_by} at {when}); open it")
        else:
            told = (f"the case record of agency {agency_id} for child {person_key} was changed by {changed_by} at "
                    f"{when} since you opened it (version {opened}, now {current}); reload it")
        super().__init__(f"{told}: nothing was saved")


# --- checking content

def _text(field: str, value: object, errors: dict[str, str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = f"{field}: expected text, not {value!r}"
        return ""
    return value.strip()


def _institution(index: int, value: object, errors: dict[str, str]) -> Institution | None:
    where = f"institutions[{index}]"
    if isinstance(value, Institution):
        value = asdict(value)
    if not isinstance(value, Mapping):
        errors[where] = f"{where}: expected kind, name and contact, not {value!r}"
        return None
    if unknown := sorted(set(value) - {"kind", "name", "contact"}):
        errors[where] = f"{where}: {', '.join(map(str, unknown))} not a field of an institution"
    kind, name, contact = (_text(f"{where}.{f}", value.get(f), errors) for f in ("kind", "name", "contact"))
    if kind not in INSTITUTION_KINDS:
        errors[f"{where}.kind"] = f"{where}.kind {kind!r}: one of {', '.join(INSTITUTION_KINDS)}"
    if not name:
        errors[f"{where}.name"] = f"{where}.name: required"
    return Institution(kind, name, contact)


def check_content(values: Mapping[str, object]) -> CaseRecordContent:
    """The form's values checked: a valid municipality code (its check digit), a plan status code, the worker in
    charge given, each institution with a kind and a name; texts stripped. Raises ``InvalidCaseRecord`` naming
    every bad field."""
    errors: dict[str, str] = {}
    if unknown := sorted(set(values) - set(FIELDS)):
        errors |= {str(name): f"{name}: not a field of the case record" for name in unknown}
    texts = {field: _text(field, values.get(field), errors)
             for field in (*_TEXT_FIELDS, "address_municipality_code", "plan_status", "worker_id")}
    code = texts["address_municipality_code"]
    if not is_municipality_code(code):
        errors.setdefault("address_municipality_code",
                          f"address_municipality_code {code or '(empty)'}: not a valid municipality code")
    if texts["plan_status"] not in PLAN_STATUSES:
        errors.setdefault("plan_status", f"plan_status {texts['plan_status'] or '(empty)'}: one of "
                                         f"{', '.join(PLAN_STATUSES)}")
    if not texts["worker_id"]:
        errors.setdefault("worker_id", "worker_id: the worker in charge is required")
    elif len(texts["worker_id"]) > _USER_ID_LENGTH:
        errors.setdefault("worker_id", f"worker_id: a user ID has at most {_USER_ID_LENGTH} characters")
    listed = values.get("institutions") or ()
    if isinstance(listed, (str, Mapping)) or not isinstance(listed, Iterable):
        errors["institutions"] = f"institutions: expected a list of institutions, not {listed!r}"
        listed = ()
    institutions = tuple(_institution(i, item, errors) for i, item in enumerate(listed))
    if errors:
        raise InvalidCaseRecord(errors)
    return CaseRecordContent(institutions=institutions, **texts)


def _content_json(content: CaseRecordContent) -> str:
    return json.dumps(asdict(content), ensure_ascii=False, sort_keys=True)


def _columns(content: CaseRecordContent) -> dict:
    columns = asdict(content)
    columns["institutions"] = json.dumps(columns["institutions"], ensure_ascii=False)
    return columns


def _record(row: RowMapping) -> CaseRecord:
    content = CaseRecordContent(**{f: row[f] for f in FIELDS if f != "institutions"},
                                institutions=tuple(Institution(**i) for i in json.loads(row["institutions"])))
    return CaseRecord(row["id"], row["agency_id"], row["person_key"], row["version"], content, row["created_by"],
                      _aware(row["created_at"]), row["updated_by"], _aware(row["updated_at"]))


def _aware(at: dt.datetime) -> dt.datetime:
    """A database time: aware as PostgreSQL gives it, naive UTC as SQLite does."""
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


# --- saving

def _anchor(con: duckdb.DuckDBPyConnection, person_key: str, agency_id: str) -> tuple[str | None, str | None]:
    """One record of the child in the linkage (the user's agency's if it holds one), which outlives the key."""
    return anchor_of(con, person_key, lambda held_by: (held_by != agency_id,))


def _current(transaction: AuditedTransaction, agency_id: str, person_key: str) -> RowMapping | None:
    t = case_records_table
    row = transaction.con.execute(select(t).where(t.c.agency_id == agency_id, t.c.person_key == person_key)).first()
    return row._mapping if row else None


def _require_keeper(user: Account, person_key: str, holdings: Iterable[Holding], agencies: Mapping[str, Agency],
                    keeps_one: bool) -> None:
    require_role(user, *DECIDING_ROLES)
    held = [h.agency_id for h in holdings]
    if not keeps_one and not any(in_jurisdiction(user, a, agencies) for a in held):
        where = f"only outside your jurisdiction ({', '.join(held)})" if held else "by no agency"
        raise AccessDenied(f"child {person_key} is held {where}: your agency cannot keep a case record of the child")


def _stored(transaction: AuditedTransaction, user: Account, person_key: str, content: CaseRecordContent,
            current: RowMapping | None, expected_version: int | None, anchor: tuple[str | None, str | None]
            ) -> RowMapping:
    """Insert version 1 or update ``current`` from ``expected_version``; the stored row."""
    con, t, now = transaction.con, case_records_table, transaction.now
    if current is not None and current["version"] != expected_version:
        raise StaleCaseRecord(user.agency_id, person_key, expected_version, current["version"],
                              current["updated_by"], current["updated_at"])
    if current is None and expected_version is not None:
        raise LookupError(f"agency {user.agency_id} keeps no case record of child {person_key} to update")
    stamp = {"updated_by": user.user_id, "updated_at": now}
    if current is None:
        con.execute(insert(t).values(agency_id=user.agency_id, person_key=person_key, anchor_agency_id=anchor[0],
                                     anchor_local_child_id=anchor[1], version=1, **_columns(content),
                                     created_by=user.user_id, created_at=now, **stamp))
    else:
        saved = con.execute(update(t).where(t.c.id == current["id"], t.c.version == expected_version)
                            .values(version=expected_version + 1, **_columns(content), **stamp))
        if saved.rowcount != 1:  # the store's lock makes this unreachable; a lost update must never pass silently
            raise StaleCaseRecord(user.agency_id, person_key, expected_version, expected_version + 1,
                                  "another user", now)
    return _current(transaction, user.agency_id, person_key)


def save_case_record(engine: Engine, con: duckdb.DuckDBPyConnection, user: Account, person_key: str,
                     content: CaseRecordContent, agencies: Mapping[str, Agency], *,
                     expected_version: int | None) -> CaseRecord:
    """Save the user's agency's case record of the child: a new one (``expected_version`` None; refused with
    ``StaleCaseRecord`` if one exists) or a change over the version the user opened. The version, its audit row
    (``enter_case_record`` / ``update_case_record``) and a notification of every other agency holding the child
    (the warehouse's holders, read from ``con``, and the agencies keeping a case record) in one transaction."""
    content = check_content({**asdict(content), "institutions": content.institutions})
    holdings = load_holdings(con, person_key)
    anchor = _anchor(con, person_key, user.agency_id)
    with audited(engine) as transaction:
        current = _current(transaction, user.agency_id, person_key)
        _require_keeper(user, person_key, holdings, agencies, keeps_one=current is not None)
        row = _stored(transaction, user, person_key, content, current, expected_version, anchor)
        version = row["version"]
        transaction.con.execute(insert(versions_table).values(
            case_record_id=row["id"], version=version, saved_at=transaction.now, saved_by=user.user_id,
            content=_content_json(content)))
        transaction.log(AccessEntry(user.user_id, user.role, ENTER_CASE_RECORD if version == 1 else UPDATE_CASE_RECORD,
                                    user.agency_id, person_key=person_key,
                                    detail=f"case record {row['id']} version {version}"))
        recipients = {h.agency_id for h in holdings} | case_record_keepers(transaction, person_key)
        notify(transaction, person_key=person_key, change="case_record", source_agency_id=user.agency_id,
               event_key=f"case_record:{row['id']}:v{version}", recipients=recipients,
               detail=f"version {version}")
        return _record(row)


# --- reading

def own_case_record(engine: Engine, user: Account, person_key: str) -> CaseRecord | None:
    """The user's agency's case record of the child, to edit (None: none yet); audited (``view_case_records``)."""
    require_role(user, *DECIDING_ROLES)
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_CASE_RECORDS, user.agency_id,
                                    person_key=person_key, detail=user.agency_id))
        row = _current(transaction, user.agency_id, person_key)
        return _record(row) if row else None


def case_record_holdings(engine: Engine, person_key: str) -> tuple[Holding, ...]:
    """The agencies keeping a case record of the child, since they made it: holders to add to the warehouse's
    (``load_holdings``) before ``open_child``, so that a record kept by an agency the feeds do not name is opened."""
    t = case_records_table
    with engine.connect() as store:
        rows = store.execute(select(t.c.agency_id, t.c.created_at).where(t.c.person_key == person_key)
                             .order_by(t.c.agency_id)).all()
    return tuple(Holding(agency_id, _aware(created_at)) for agency_id, created_at in rows)


def _granted(user: Account, grant: Grant) -> tuple[str, ...]:
    """The agencies whose case records the grant opened (and the user's own agency's record). Caseworkers,
    supervisors and health staff read them: since 2024 a municipality's child welfare and maternal and child health
    staff work as one こども家庭センター; the one-stop desk does not."""
    require_role(user, *READING_ROLES)
    if grant.user_id != user.user_id or grant.person_key is None:
        raise AccessDenied(f"the grant is {grant.user_id}'s, not {user.user_id}'s, or names no child")
    return tuple(sorted({*grant.agencies, user.agency_id}))


def case_records(engine: Engine, user: Account, grant: Grant) -> list[CaseRecord]:
    """The case records of the child kept by the agencies the grant opened, by agency; audited
    (``view_case_records``, naming the agencies) in the transaction that reads them."""
    agencies = _granted(user, grant)
    t = case_records_table
    query = (select(t).where(t.c.person_key == grant.person_key, t.c.agency_id.in_(agencies))
             .order_by(t.c.agency_id))
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, VIEW_CASE_RECORDS, user.agency_id,
                                    person_key=grant.person_key, detail=";".join(agencies)))
        return [_record(row._mapping) for row in transaction.con.execute(query)]


def case_record_versions(engine: Engine, user: Account, grant: Grant) -> list[CaseRecordVersion]:
    """When each version of the granted agencies' case records was saved and by whom, oldest first: the child's
    timeline, whose view ``open_child`` audited."""
    agencies = _granted(user, grant)
    t, v = case_records_table, versions_table
    query = (select(t.c.agency_id, v.c.version, v.c.saved_at, v.c.saved_by)
             .join(t, t.c.id == v.c.case_record_id)
             .where(t.c.person_key == grant.person_key, t.c.agency_id.in_(agencies))
             .order_by(v.c.saved_at, t.c.agency_id, v.c.version))
    with engine.connect() as store:
        return [CaseRecordVersion(agency_id, version, _aware(saved_at), saved_by)
                for agency_id, version, saved_at, saved_by in store.execute(query)]


# --- after a run

REKEY_CASE_RECORDS = "rekey_case_records"


def rekey_case_records(settings: Settings) -> int:
    """Move each case record whose anchor record has another person key in the published linkage to that key (one
    audit row for all); how many moved. A record whose new key its agency already keeps a record of stays where it is
    and is logged: two records of one child in one agency are for a person to merge, not for a run."""
    if not settings.is_production and not (settings.home / "operational.db").is_file():
        return 0
    engine = connect(settings)
    try:
        with engine.connect() as store:
            rows = store.execute(select(case_records_table.c.id, case_records_table.c.agency_id,
                                        case_records_table.c.person_key, case_records_table.c.anchor_agency_id,
                                        case_records_table.c.anchor_local_child_id)).all()
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            keys = current_keys(con, ((r.anchor_agency_id, r.anchor_local_child_id) for r in rows))
        kept = {(r.agency_id, r.person_key) for r in rows}
        moves = []
        for row in rows:
            new = keys.get((row.anchor_agency_id, row.anchor_local_child_id))
            if new is None or new == row.person_key:
                continue
            if (row.agency_id, new) in kept:
                log.warning("case record %d of %s: its child is now %s, of whom the agency keeps another record; "
                            "left under %s", row.id, row.agency_id, new, row.person_key)
                continue
            kept.add((row.agency_id, new))
            moves.append((row.id, new))
        if moves:
            with audited(engine) as transaction:
                for record_id, new in moves:
                    transaction.con.execute(update(case_records_table).where(case_records_table.c.id == record_id)
                                            .values(person_key=new))
                transaction.log(AccessEntry(SYSTEM_USER, SYSTEM, REKEY_CASE_RECORDS,
                                            detail=";".join(f"{i}>{k}" for i, k in moves)))
    finally:
        engine.dispose()
    return len(moves)
