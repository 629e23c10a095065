"""Local accounts, signing in and sessions; every sign-in (or failed one) and every change to an account is a row
of the audit chain, written in the same transaction as what it records.

Passwords are stored as argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile) of
HMAC-SHA256(secret, password): the secret (``Settings.app_secret``, from ``KODOMO_SECRET``) is kept outside the
store, so a copy of the store alone does not allow guessing passwords offline. Changing the secret invalidates
every password. A password never reaches a log, an exception, an audit row or a ``repr``.

Repeated failures are slowed down per user ID (existing or not, so the lock says nothing about which IDs exist):
after ``LockoutPolicy.free_attempts`` failures in a row, each further failure locks the ID for twice as long as the
one before, up to ``longest_lock``. The count is read from the audit log itself, under the store's write lock, so
parallel guesses cannot slip past it, and a sign-in attempted while locked is refused and recorded, without
counting, whatever the password.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update

from kodomo.appdata.access import Agency, require_role
from kodomo.operational import (ADMIN, CASEWORKER, DATA_SCIENTIST, FAMILY_SUPPORT, HEALTH_STAFF, MANAGER, ROLES,
                                SUPERVISOR, SYSTEM, SYSTEM_USER, AccessEntry, AuditedTransaction, accounts, audit_log,
                                audited)
from kodomo.settings import Settings

SIGN_IN, SIGN_IN_FAILED, SIGN_IN_LOCKED, SIGN_OUT = "sign_in", "sign_in_failed", "sign_in_locked", "sign_out"
CREATE_ACCOUNT, SET_PASSWORD, DEACTIVATE_ACCOUNT = "create_account", "set_password", "deactivate_account"
NO_ACCOUNT = "no_account"  # the role recorded for a sign-in attempt with an unknown user ID
MIN_PASSWORD_LENGTH = 12
USER_ID = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")

_hasher = PasswordHasher()


class AccountError(ValueError):
    """An account that cannot be made or changed as asked (one line, naming the field)."""


class SignInFailed(Exception):
    """The same answer for a wrong password, an unknown or inactive user ID; or a lock with when to try again."""

    def __init__(self, retry_after: dt.timedelta | None = None):
        self.retry_after = retry_after
        super().__init__("the user ID or password is wrong" if retry_after is None else
                         f"too many failed sign-ins: try again in {_ceil_seconds(retry_after)} s")


@dataclass(frozen=True)
class Account:
    """A signed-in (or stored) user, without the password hash."""
    user_id: str
    display_name: str
    agency_id: str
    role: str
    active: bool = True


@dataclass(frozen=True)
class LockoutPolicy:
    free_attempts: int = 3
    first_lock: dt.timedelta = dt.timedelta(seconds=30)
    longest_lock: dt.timedelta = dt.timedelta(hours=1)

    def lock_after(self, failures: int) -> dt.timedelta:
        """How long a user ID is locked after this many failures in a row."""
        if failures < self.free_attempts:
            return dt.timedelta(0)
        # capped before doubling, so a long run of failures cannot overflow
        doublings = min(failures - self.free_attempts, 32)
        return min(self.first_lock * 2 ** doublings, self.longest_lock)


LOCKOUT = LockoutPolicy()


# --- passwords

def _peppered(settings: Settings, password: str) -> str:
    return hmac.new(settings.app_secret, password.encode(), hashlib.sha256).hexdigest()


def _hash(settings: Settings, password: str) -> str:
    return _hasher.hash(_peppered(settings, password))


def _matches(settings: Settings, stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, _peppered(settings, password))
    except (VerificationError, InvalidHashError):
        return False


@cache
def _stand_in_hash() -> str:
    """Verified against when the user ID is unknown, so that answer takes as long as a wrong password."""
    return _hasher.hash(secrets.token_hex(16))


def _check_password(user_id: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if user_id.lower() in password.lower():
        raise AccountError("password: must not contain the user ID")


# --- signing in

def authenticate(engine: Engine, settings: Settings, user_id: str, password: str,
                 policy: LockoutPolicy = LOCKOUT) -> Account:
    """The account, if the password is right and the ID is neither inactive nor locked; else ``SignInFailed``.

    The password is checked before the store's lock is taken (hashing is slow), the lock decides."""
    user_id = user_id.strip().lower()
    stored = _stored(engine, user_id)
    right = _matches(settings, stored["password_hash"] if stored else _stand_in_hash(), password)
    role, agency_id = (stored["role"], stored["agency_id"]) if stored else (NO_ACCOUNT, None)
    with audited(engine) as transaction:
        locked_for = _locked_for(transaction, user_id, policy)
        if locked_for:
            outcome, detail, failure = SIGN_IN_LOCKED, f"locked for {_ceil_seconds(locked_for)} s", \
                SignInFailed(locked_for)
        elif stored is None or not right or not stored["active"]:
            reason = "unknown user ID" if stored is None else "wrong password" if not right else "inactive account"
            failures = _failures_in_a_row(transaction, user_id) + 1
            outcome, detail, failure = SIGN_IN_FAILED, reason, SignInFailed(policy.lock_after(failures) or None)
        else:
            outcome, detail, failure = SIGN_IN, None, None
        transaction.log(AccessEntry(user_id, role, outcome, agency_id, detail=detail))
    if failure:  # raised only now: the audit row is committed
        raise failure
    return _account(stored)


def _locked_for(transaction: AuditedTransaction, user_id: str, policy: LockoutPolicy) -> dt.timedelta:
    failures = _failures_in_a_row(transaction, user_id)
    if not failures:
        return dt.timedelta(0)
    last = _utc(transaction.con.scalar(
        select(audit_log.c.at).where(audit_log.c.user_id == user_id, audit_log.c.action == SIGN_IN_FAILED)
        .order_by(audit_log.c.id.desc()).limit(1)))
    return max(last + policy.lock_after(failures) - _utc(transaction.now), dt.timedelta(0))


_COUNTED = 64  # failures beyond this many in a row lock no longer (the policy's longest lock is reached far sooner)


def _failures_in_a_row(transaction: AuditedTransaction, user_id: str) -> int:
    recent = transaction.con.scalars(
        select(audit_log.c.action).where(audit_log.c.user_id == user_id,
                                         audit_log.c.action.in_([SIGN_IN, SIGN_IN_FAILED]))
        .order_by(audit_log.c.id.desc()).limit(_COUNTED))
    failures = 0
    for action in recent:
        if action == SIGN_IN:
            break
        failures += 1
    return failures


def _utc(at: dt.datetime) -> dt.datetime:
    """SQLite returns the database's UTC times naive; PostgreSQL aware."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def _ceil_seconds(span: dt.timedelta) -> int:
    return -int(-span.total_seconds() // 1)


# --- sessions

def record_sign_out(engine: Engine, user: Account) -> None:
    """The end of a session the user ended, as a row of the audit chain (a session that expired shows as the
    absence of activity after its last row)."""
    with audited(engine) as transaction:
        transaction.log(AccessEntry(user.user_id, user.role, SIGN_OUT, user.agency_id))


IDLE_LIMIT = dt.timedelta(minutes=15)


class SessionExpired(Exception):
    """The session was idle too long: sign in again."""


@dataclass(frozen=True)
class Session:
    """A signed-in user's session; the app keeps it and touches it on every interaction."""
    account: Account
    signed_in_at: dt.datetime
    last_active_at: dt.datetime
    idle_limit: dt.timedelta = IDLE_LIMIT

    @classmethod
    def start(cls, account: Account, now: dt.datetime) -> Session:
        return cls(account, now, now)

    def expired(self, now: dt.datetime) -> bool:
        return now - self.last_active_at > self.idle_limit

    def touched(self, now: dt.datetime) -> Session:
        """The session active at ``now``; ``SessionExpired`` if it had been idle too long."""
        if self.expired(now):
            raise SessionExpired(f"signed out after {int(self.idle_limit.total_seconds() // 60)} minutes without "
                                 "activity")
        return replace(self, last_active_at=now)


# --- managing accounts (admin)

def account(engine: Engine, user_id: str) -> Account | None:
    stored = _stored(engine, user_id.strip().lower())
    return _account(stored) if stored else None


def _stored(engine: Engine, user_id: str) -> Mapping | None:
    with engine.connect() as con:
        row = con.execute(select(accounts).where(accounts.c.user_id == user_id)).one_or_none()
    return row._mapping if row else None


def _account(stored: Mapping) -> Account:
    return Account(stored["user_id"], stored["display_name"], stored["agency_id"], stored["role"],
                   bool(stored["active"]))


def create_account(engine: Engine, settings: Settings, actor: Account, new: Account, password: str,
                   agencies: Mapping[str, Agency]) -> Account:
    """A new active account, made by an admin."""
    require_role(actor, ADMIN)
    return _create(engine, settings, actor.user_id, actor.role, new, password, agencies)


def _create(engine: Engine, settings: Settings, actor_id: str, actor_role: str, new: Account, password: str,
            agencies: Mapping[str, Agency]) -> Account:
    new = replace(new, user_id=new.user_id.strip().lower(), display_name=new.display_name.strip(), active=True)
    if not USER_ID.fullmatch(new.user_id):
        raise AccountError(f"user ID {new.user_id!r}: 3-64 lower-case letters, digits, '.', '_' or '-'")
    if not new.display_name:
        raise AccountError("display name: required")
    if new.role not in ROLES:
        raise AccountError(f"role {new.role!r}: one of {', '.join(ROLES)}")
    if new.agency_id not in agencies:
        raise AccountError(f"agency {new.agency_id!r}: not in agencies.csv")
    _check_password(new.user_id, password)
    password_hash = _hash(settings, password)
    with audited(engine) as transaction:
        if transaction.con.scalar(select(accounts.c.user_id).where(accounts.c.user_id == new.user_id)):
            raise AccountError(f"user ID {new.user_id!r}: already taken")
        transaction.con.execute(insert(accounts).values(
            user_id=new.user_id, display_name=new.display_name, agency_id=new.agency_id, role=new.role,
            password_hash=password_hash, active=True, created_at=transaction.now))
        transaction.log(AccessEntry(actor_id, actor_role, CREATE_ACCOUNT, new.agency_id,
                                    detail=f"{new.user_id} ({new.role})"))
    return new


def set_password(engine: Engine, settings: Settings, actor: Account, user_id: str, password: str) -> None:
    """A new password, set by the user themselves or by an admin."""
    user_id = user_id.strip().lower()
    if actor.user_id != user_id:
        require_role(actor, ADMIN)
    _set_password(engine, settings, actor.user_id, actor.role, user_id, password)


def _set_password(engine: Engine, settings: Settings, actor_id: str, actor_role: str, user_id: str,
                  password: str) -> None:
    _check_password(user_id, password)
    password_hash = _hash(settings, password)
    with audited(engine) as transaction:
        changed = transaction.con.execute(
            update(accounts).where(accounts.c.user_id == user_id).values(password_hash=password_hash)).rowcount
        if not changed:
            raise AccountError(f"user ID {user_id!r}: no such account")
        transaction.log(AccessEntry(actor_id, actor_role, SET_PASSWORD, detail=user_id))


def deactivate_account(engine: Engine, actor: Account, user_id: str) -> None:
    """The account can no longer sign in; it is kept, with everything it did."""
    require_role(actor, ADMIN)
    user_id = user_id.strip().lower()
    with audited(engine) as transaction:
        changed = transaction.con.execute(
            update(accounts).where(accounts.c.user_id == user_id).values(active=False)).rowcount
        if not changed:
            raise AccountError(f"user ID {user_id!r}: no such account")
        transaction.log(AccessEntry(actor.user_id, actor.role, DEACTIVATE_ACCOUNT, detail=user_id))


# --- demo accounts (`make demo`)

_DEMO_NAMES = {
    CASEWORKER: "児童福祉司（デモ）", SUPERVISOR: "スーパーバイザー（デモ）", HEALTH_STAFF: "保健師（デモ）",
    FAMILY_SUPPORT: "ひとり親相談員（デモ）", MANAGER: "管理職（デモ）", DATA_SCIENTIST: "データ分析担当（デモ）",
    ADMIN: "システム管理者（デモ）",
}
# Municipal roles sit at a municipality, the others at the child guidance centre that covers it.
_AT_MUNICIPALITY = (HEALTH_STAFF, FAMILY_SUPPORT)


@dataclass(frozen=True)
class DemoAccount:
    account: Account
    password: str = field(repr=False)  # for printing once, on purpose; never for a log


def create_demo_accounts(engine: Engine, settings: Settings, agencies: Mapping[str, Agency]) -> list[DemoAccount]:
    """One account per role, ``demo-<role>``, with a fresh random password each time (existing demo accounts get
    a new one): returned once, for ``make demo`` to print. Refused in production."""
    if settings.is_production:
        raise AccountError("demo accounts: not in production")
    cgc, municipality = _demo_agencies(agencies)
    made = []
    for role in ROLES:
        demo = Account(f"demo-{role.replace('_', '-')}", _DEMO_NAMES[role],
                       municipality if role in _AT_MUNICIPALITY else cgc, role)
        password = secrets.token_urlsafe(12)
        if account(engine, demo.user_id):
            _set_password(engine, settings, SYSTEM_USER, SYSTEM, demo.user_id, password)
        else:
            _create(engine, settings, SYSTEM_USER, SYSTEM, demo, password, agencies)
        made.append(DemoAccount(demo, password))
    return made


def _demo_agencies(agencies: Mapping[str, Agency]) -> tuple[str, str]:
    """The first child guidance centre (by ID) covering a municipality, and the first municipality it covers."""
    covered = sorted((a.cgc_id, a.agency_id) for a in agencies.values()
                     if a.agency_type == "municipality" and a.cgc_id in agencies)
    if not covered:
        raise AccountError("demo accounts: agencies has no municipality with its child guidance centre")
    return covered[0]
