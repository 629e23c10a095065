"""The one-stop desk's shared consultation (issue 12): one record per family, routed to the departments concerned.

With the parent's consent a consultation (needs, programmes suggested, contact preference) is stored in the
operational store and routed to departments; the parent receives a one-time consultation code to come back with
and read or write the thread. The municipality's ``family_support`` staff see the consultations routed to a
department in an inbox, reply and record what they did; every department sees the whole history.

The code is ``CODE_LENGTH`` characters of ``CODE_ALPHABET`` (no 0/O, 1/I/L: typed on a phone, read aloud), about
49 bits, drawn with ``secrets``. Only HMAC-SHA256(``Settings.app_secret``, code) is stored: a salted argon2 hash
cannot be looked up, so finding the thread would mean verifying the code against every open consultation, while
the keyed hash is looked up by its unique index and, the secret being kept outside the store, a copy of the store
alone does not let anyone try codes offline. A code opens its thread for ``CODE_VALID_FOR`` after it is given; a
wrong and an expired code get the same answer. Codes typed on the parents' page go through ``try_code``: the app
knows no address of a parent (no sign-in, no IP kept), so wrong codes are counted per browser session and lock it
for growing waits (``CODE_LOCKOUT``); what stops a guesser with many sessions is the code's 49 bits (about 2^49 /
open consultations guesses per hit), and every wrong code is an audit row, for a run of them to be seen.

Staff reads and writes are refused to other roles and other municipalities (``AccessDenied``) and write their
audit row first, in the same transaction. ``MessageChannel`` is the seam for channels other than the app (e.g. a
LINE official account's webhook).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, func, insert, select, update

from kodomo.appdata.access import AccessDenied, require_role
from kodomo.appdata.accounts import Account, LockoutPolicy
from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.operational import (ACTION, CLOSED, CONSULTATION_DEPARTMENTS, CONTACT_PREFERENCES, DEPARTMENT,
                                FAMILY_SUPPORT, MESSAGE, OPEN, PARENT, AccessEntry, AuditedTransaction, audited,
                                consultation_departments, consultation_messages, consultations, log_access)
from kodomo.settings import Settings

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CODE_VALID_FOR = dt.timedelta(days=30)  # long enough for the departments to answer and the parent to come back
OPEN_CONSULTATION, VIEW_CONSULTATION_INBOX = "open_consultation", "view_consultation_inbox"
VIEW_CONSULTATION, REPLY_CONSULTATION, RECORD_CONSULTATION_ACTION = ("view_consultation", "reply_consultation",
                                                                     "record_consultation_action")
VIEW_CONSULTATION_BY_CODE, PARENT_REPLY = "view_consultation_by_code", "parent_reply_consultation"
WRONG_CODE, CODE_LOCKED = "wrong_consultation_code", "consultation_code_locked"
DEPARTMENTS = CONSULTATION_DEPARTMENTS
# Three wrong codes in a row are typing; from the third, the session waits 30 s, then twice as long each time.
CODE_LOCKOUT = LockoutPolicy(free_attempts=3, first_lock=dt.timedelta(seconds=30), longest_lock=dt.timedelta(hours=1))


class ConsultationError(ValueError):
    """A consultation that cannot be stored or changed as asked (one line, naming what)."""


class ConsentRequired(ConsultationError):
    """Nothing about a consultation is stored without the parent's consent."""

    def __init__(self):
        super().__init__("consent: the parent must agree before the consultation is recorded")


class CodeNotValid(LookupError):
    """The same answer for a wrong and an expired consultation code."""

    def __init__(self):
        super().__init__("the consultation code is wrong or has expired")


@dataclass(frozen=True)
class Entry:
    """One entry of a consultation's thread."""
    at: dt.datetime
    sender: str  # parent / department
    department: str | None
    kind: str  # message / action
    text: str


@dataclass(frozen=True)
class Consultation:
    id: int
    agency_id: str
    created_at: dt.datetime
    needs: str
    programmes: tuple[str, ...]
    contact: str
    departments: tuple[str, ...]
    status: str
    thread: tuple[Entry, ...]  # oldest first; the parent's view holds messages only


# --- the code

def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _code_hash(settings: Settings, code: str) -> str:
    # Spaces and hyphens are how people group a code they copy; case is how phones capitalise it.
    typed = "".join(code.split()).replace("-", "").upper()
    return hmac.new(settings.app_secret, typed.encode(), hashlib.sha256).hexdigest()


# --- the parent's side

def open_consultation(engine: Engine, settings: Settings, consent: bool, municipality: str, needs: str,
                      programmes: Iterable[str], contact: str, departments: Iterable[str],
                      valid_for: dt.timedelta = CODE_VALID_FOR) -> tuple[int, str]:
    """Record a consultation the parent agreed to and route it; its id and the code to give the parent (shown
    once: only its hash is kept). The consent is an audit row, timed by the database."""
    if consent is not True:
        raise ConsentRequired()
    municipality, needs = municipality.strip(), needs.strip()
    programmes, departments = _known(programmes, PROGRAMMES, "programme"), _known(departments, DEPARTMENTS,
                                                                                  "department")
    if not municipality:
        raise ConsultationError("municipality: the desk's agency ID is required")
    if not needs:
        raise ConsultationError("needs: say what the family needs")
    if contact not in CONTACT_PREFERENCES:
        raise ConsultationError(f"contact: one of {', '.join(CONTACT_PREFERENCES)}, not {contact!r}")
    if not departments:
        raise ConsultationError("departments: route the consultation to at least one department")
    code = new_code()
    with audited(engine) as transaction:
        stored = transaction.con.execute(insert(consultations).values(
            agency_id=municipality, created_at=transaction.now, needs=needs, programmes=";".join(programmes),
            contact=contact, consent_given_at=transaction.now, code_hash=_code_hash(settings, code),
            code_expires_at=transaction.now + valid_for, status=OPEN))
        [consultation_id] = stored.inserted_primary_key
        transaction.con.execute(insert(consultation_departments), [
            {"consultation_id": consultation_id, "department": d} for d in departments])
        transaction.log(AccessEntry(PARENT, PARENT, OPEN_CONSULTATION, municipality,
                                    detail=_about(consultation_id)))
    return consultation_id, code


def _known(values: Iterable[str], known, what: str) -> tuple[str, ...]:
    """The values in the order of the list they come from; an unknown one is refused, naming it."""
    chosen = set(values)
    if unknown := sorted(chosen - set(known)):
        raise ConsultationError(f"{what}: unknown {', '.join(unknown)} (one of {', '.join(known)})")
    return tuple(k for k in known if k in chosen)


def thread_for_code(engine: Engine, settings: Settings, code: str) -> Consultation:
    """The consultation the code opens, with its messages (not the desk's internal actions). Audited first."""
    with audited(engine) as transaction:
        row = _by_code(transaction, settings, code)
        transaction.log(AccessEntry(PARENT, PARENT, VIEW_CONSULTATION_BY_CODE, row.agency_id, detail=_about(row.id)))
        return _consultation(transaction.con, row, kinds=(MESSAGE,))


@dataclass(frozen=True)
class CodeAttempts:
    """One browser session's wrong codes in a row, and until when it may not try another."""
    failures: int = 0
    locked_until: dt.datetime | None = None

    def locked_for(self, now: dt.datetime) -> dt.timedelta:
        return max(self.locked_until - now, dt.timedelta(0)) if self.locked_until else dt.timedelta(0)


@dataclass(frozen=True)
class CodeOutcome:
    consultation: Consultation | None  # the thread, when the code opened it
    attempts: CodeAttempts  # the session's count after this try, to keep for the next
    retry_after: dt.timedelta | None  # the session is locked for this long (None: it may try again now)


def try_code(engine: Engine, settings: Settings, code: str, attempts: CodeAttempts, now: dt.datetime,
             policy: LockoutPolicy = CODE_LOCKOUT) -> CodeOutcome:
    """A code typed by a parent, against the session's wrong codes so far: while locked nothing is looked up; a
    wrong or expired code counts one more (locking the session from ``policy.free_attempts`` on); the right one
    clears the count. Every wrong code and every try while locked is an audit row."""
    locked_for = attempts.locked_for(now)
    if locked_for:
        log_access(engine, AccessEntry(PARENT, PARENT, CODE_LOCKED, detail=f"locked for {_seconds(locked_for)} s"))
        return CodeOutcome(None, attempts, locked_for)
    try:
        return CodeOutcome(thread_for_code(engine, settings, code), CodeAttempts(), None)
    except CodeNotValid:
        failures = attempts.failures + 1
        lock = policy.lock_after(failures)
        log_access(engine, AccessEntry(PARENT, PARENT, WRONG_CODE, detail=f"{failures} in a row in one session"
                                       + (f", locked for {_seconds(lock)} s" if lock else "")))
        return CodeOutcome(None, CodeAttempts(failures, now + lock if lock else None), lock or None)


def _seconds(span: dt.timedelta) -> int:
    return -int(-span.total_seconds() // 1)


def parent_reply(engine: Engine, settings: Settings, code: str, text: str) -> None:
    """The parent's message, added to the thread the code opens."""
    if not text.strip():
        raise ConsultationError("text: the message is empty")
    with audited(engine) as transaction:
        row = _by_code(transaction, settings, code)
        if row.status != OPEN:
            raise ConsultationError(f"consultation {row.id} is closed: contact the desk")
        transaction.log(AccessEntry(PARENT, PARENT, PARENT_REPLY, row.agency_id, detail=_about(row.id)))
        transaction.con.execute(insert(consultation_messages).values(
            consultation_id=row.id, at=transaction.now, sender=PARENT, kind=MESSAGE, text=text.strip()))


def _by_code(transaction: AuditedTransaction, settings: Settings, code: str):
    row = transaction.con.execute(select(consultations).where(
        consultations.c.code_hash == _code_hash(settings, code))).one_or_none()
    if row is None or _utc(row.code_expires_at) <= _utc(transaction.now):
        raise CodeNotValid()
    return row


def _utc(at: dt.datetime) -> dt.datetime:
    """SQLite returns times naive, in UTC."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


# --- the desk's side

@dataclass(frozen=True)
class InboxItem:
    id: int
    created_at: dt.datetime
    departments: tuple[str, ...]
    programmes: tuple[str, ...]
    contact: str
    status: str
    last_entry_at: dt.datetime  # when the parent or a department last wrote


def inbox(engine: Engine, account: Account, department: str | None = None) -> list[InboxItem]:
    """The consultations of the account's municipality routed to the department (any, when None), newest activity
    first. Audited first."""
    require_role(account, FAMILY_SUPPORT)
    if department is not None:
        _known([department], DEPARTMENTS, "department")
    routed = select(consultation_departments.c.consultation_id)
    if department is not None:
        routed = routed.where(consultation_departments.c.department == department)
    last = (select(consultation_messages.c.consultation_id, func.max(consultation_messages.c.at).label("last_at"))
            .group_by(consultation_messages.c.consultation_id).subquery())
    query = (select(consultations, last.c.last_at).outerjoin(last, last.c.consultation_id == consultations.c.id)
             .where(consultations.c.agency_id == account.agency_id, consultations.c.id.in_(routed)))
    with audited(engine) as transaction:
        transaction.log(AccessEntry(account.user_id, account.role, VIEW_CONSULTATION_INBOX, account.agency_id,
                                    detail=department or "all departments"))
        rows = transaction.con.execute(query).all()
        routes = _routes(transaction.con, [row.id for row in rows])
    items = [InboxItem(row.id, row.created_at, routes[row.id], _split(row.programmes), row.contact, row.status,
                       row.last_at or row.created_at) for row in rows]
    return sorted(items, key=lambda item: (_utc(item.last_entry_at), item.id), reverse=True)


def consultation_for_staff(engine: Engine, account: Account, consultation_id: int) -> Consultation:
    """The whole record: needs, routing, messages and every department's actions. Audited first."""
    require_role(account, FAMILY_SUPPORT)
    with audited(engine) as transaction:
        row = _of_agency(transaction, account, consultation_id)
        transaction.log(AccessEntry(account.user_id, account.role, VIEW_CONSULTATION, account.agency_id,
                                    detail=_about(consultation_id)))
        return _consultation(transaction.con, row, kinds=(MESSAGE, ACTION))


def staff_reply(engine: Engine, account: Account, consultation_id: int, department: str, text: str) -> None:
    """A department's message to the parent, in the thread. Audited first."""
    _write(engine, account, consultation_id, department, text, MESSAGE, REPLY_CONSULTATION)


def record_action(engine: Engine, account: Account, consultation_id: int, department: str, text: str,
                  close: bool = False) -> None:
    """What a department did, for the other departments (the parent does not see it); ``close`` ends the
    consultation. Audited first."""
    _write(engine, account, consultation_id, department, text, ACTION, RECORD_CONSULTATION_ACTION, close)


def _write(engine: Engine, account: Account, consultation_id: int, department: str, text: str, kind: str,
           action: str, close: bool = False) -> None:
    require_role(account, FAMILY_SUPPORT)
    _known([department], DEPARTMENTS, "department")
    if not text.strip():
        raise ConsultationError("text: the message is empty")
    with audited(engine) as transaction:
        row = _of_agency(transaction, account, consultation_id)
        if row.status != OPEN:
            raise ConsultationError(f"consultation {consultation_id} is closed")
        transaction.log(AccessEntry(account.user_id, account.role, action, account.agency_id,
                                    detail=f"{_about(consultation_id)} {department}"))
        transaction.con.execute(insert(consultation_messages).values(
            consultation_id=consultation_id, at=transaction.now, sender=DEPARTMENT, department=department,
            staff_id=account.user_id, kind=kind, text=text.strip()))
        if close:
            transaction.con.execute(update(consultations).where(consultations.c.id == consultation_id)
                                    .values(status=CLOSED))


def _of_agency(transaction: AuditedTransaction, account: Account, consultation_id: int):
    """The consultation, if the account's municipality holds it; the same refusal whether or not it exists."""
    row = transaction.con.execute(select(consultations).where(
        consultations.c.id == consultation_id, consultations.c.agency_id == account.agency_id)).one_or_none()
    if row is None:
        raise AccessDenied(f"consultation {consultation_id} is not held by agency {account.agency_id}")
    return row


# --- reading a record

def _consultation(con: Connection, row, kinds: tuple[str, ...]) -> Consultation:
    thread = con.execute(select(consultation_messages.c.at, consultation_messages.c.sender,
                                consultation_messages.c.department, consultation_messages.c.kind,
                                consultation_messages.c.text)
                         .where(consultation_messages.c.consultation_id == row.id,
                                consultation_messages.c.kind.in_(kinds))
                         .order_by(consultation_messages.c.id))
    return Consultation(row.id, row.agency_id, row.created_at, row.needs, _split(row.programmes), row.contact,
                        _routes(con, [row.id])[row.id], row.status, tuple(Entry(*entry) for entry in thread))


def _routes(con: Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Each consultation's departments, in ``DEPARTMENTS`` order."""
    routed: dict[int, set[str]] = {i: set() for i in ids}
    for consultation_id, department in con.execute(select(consultation_departments).where(
            consultation_departments.c.consultation_id.in_(ids))):
        routed[consultation_id].add(department)
    return {i: tuple(d for d in DEPARTMENTS if d in found) for i, found in routed.items()}


def _split(programmes: str) -> tuple[str, ...]:
    return tuple(p for p in programmes.split(";") if p)


def _about(consultation_id: int) -> str:
    return f"consultation {consultation_id}"


# --- channels

class MessageChannel(Protocol):
    """How messages travel between the desk and a parent. The thread in the store is the record whatever the
    channel; a channel adds delivery (e.g. a LINE official account: push on send, its webhook calls ``receive``
    with the LINE user linked to the consultation)."""

    def send_to_parent(self, account: Account, consultation_id: int, department: str, text: str) -> None:
        """A department's reply: stored in the thread, then delivered."""

    def receive(self, address: str, text: str) -> None:
        """A parent's message arriving on the channel, from the channel's address of the parent."""


@dataclass(frozen=True)
class InAppChannel:
    """The app itself: the parent reads the thread with the consultation code, which is also their address."""
    engine: Engine
    settings: Settings

    def send_to_parent(self, account: Account, consultation_id: int, department: str, text: str) -> None:
        staff_reply(self.engine, account, consultation_id, department, text)

    def receive(self, address: str, text: str) -> None:
        parent_reply(self.engine, self.settings, address, text)
