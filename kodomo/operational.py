"""The operational store: what people do in the app, kept apart from the warehouse (which the app only reads).

Two tables, both append-only:
- ``audit_log``: every view of a child's intake or record (when, who, in which role, what) and every
  decision recorded, written before the record is shown;
- ``worker_decisions``: a worker's own decision on an intake, with the probability and model version the
  worker saw.

The back end is chosen by configuration (``kodomo.settings``): SQLite at ``$KODOMO_HOME/operational.db``
locally, PostgreSQL at ``KODOMO_POSTGRES_URL`` with ``KODOMO_ENV=production``. Tables are created when
missing. This module offers no update or delete, and database triggers refuse them: the MHLW security
guideline asks for access logs protected against deletion and tampering, and a changed decision is a new row.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from functools import cache

from sqlalchemy import (DDL, BigInteger, CheckConstraint, Column, DateTime, Engine, Float, Integer, MetaData, String,
                        Table, Text, create_engine, event, insert, select)

from kodomo.contracts import contract
from kodomo.settings import Settings

CASEWORKER, DATA_SCIENTIST = "caseworker", "data_scientist"
VIEW_INTAKE, RECORD_DECISION = "view_intake", "record_decision"


@cache
def decision_codes() -> tuple[str, ...]:
    """protect / no_protect / undecided, as the assessments contract lists them."""
    return contract("assessments").column("worker_decision").codes


metadata = MetaData()
# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGINT identity.
_ID = BigInteger().with_variant(Integer, "sqlite")

audit_log = Table(
    "audit_log", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("agency_id", String(16)),
    Column("report_id", String(64)),
    Column("person_key", String(64)),
)

worker_decisions = Table(
    "worker_decisions", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("agency_id", String(16), nullable=False),
    Column("report_id", String(64), nullable=False),
    Column("person_key", String(64)),
    Column("worker_id", String(64), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("rationale", Text, nullable=False),
    Column("risk_score_shown", Float),
    Column("model_version", String(32)),
    Column("checklist_verdict", Integer),
    CheckConstraint(f"decision in ({', '.join(repr(c) for c in decision_codes())})", name="decision_code"),
    CheckConstraint("length(trim(rationale)) > 0", name="rationale_given"),
)

# DDL formats its text with %, hence %% for the one placeholder of RAISE.
_PG_APPEND_ONLY = DDL("""
    create or replace function kodomo_append_only() returns trigger language plpgsql as $$
    begin raise exception '%% is append-only', tg_table_name; end $$""").execute_if(dialect="postgresql")


def _refuse_changes(table: Table) -> None:
    name = table.name
    sqlite = (f"create trigger {name}_no_{verb} before {verb} on {name} "
              f"begin select raise(abort, '{name} is append-only'); end" for verb in ("update", "delete"))
    for statement in sqlite:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    event.listen(table, "after_create", _PG_APPEND_ONLY)
    event.listen(table, "after_create", DDL(
        f"create trigger {name}_append_only before update or delete on {name} "
        f"for each row execute function kodomo_append_only()").execute_if(dialect="postgresql"))


for _table in (audit_log, worker_decisions):
    _refuse_changes(_table)


def database_url(settings: Settings) -> str:
    return settings.operational_url


def connect(settings: Settings) -> Engine:
    """The environment's operational store, its tables created if missing."""
    if settings.env != "production":
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url(settings))
    metadata.create_all(engine)
    return engine


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AccessEntry:
    user_id: str
    role: str
    action: str
    agency_id: str | None = None
    report_id: str | None = None
    person_key: str | None = None
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class WorkerDecision:
    agency_id: str
    report_id: str
    person_key: str | None
    worker_id: str
    decision: str
    rationale: str
    risk_score_shown: float | None
    model_version: str | None
    checklist_verdict: int | None = None
    decided_at: dt.datetime = field(default_factory=_now)


class InvalidDecision(ValueError):
    """A decision without a worker, a known code or a rationale: never stored."""


def _validate(decision: WorkerDecision) -> None:
    if not decision.worker_id.strip():
        raise InvalidDecision("a decision needs the worker's ID")
    if decision.decision not in decision_codes():
        raise InvalidDecision(f"decision must be one of {', '.join(decision_codes())}, not {decision.decision!r}")
    if not decision.rationale.strip():
        raise InvalidDecision("a decision needs a rationale")


def log_access(engine: Engine, entry: AccessEntry) -> None:
    with engine.begin() as con:
        con.execute(insert(audit_log).values(**asdict(entry)))


def record_decision(engine: Engine, decision: WorkerDecision) -> None:
    """Store the decision and its audit entry in one transaction (neither without the other)."""
    _validate(decision)
    entry = AccessEntry(decision.worker_id, CASEWORKER, RECORD_DECISION, decision.agency_id, decision.report_id,
                        decision.person_key, decision.decided_at)
    with engine.begin() as con:
        con.execute(insert(worker_decisions).values(**{**asdict(decision), "rationale": decision.rationale.strip()}))
        con.execute(insert(audit_log).values(**asdict(entry)))


def decisions_for(engine: Engine, agency_id: str, report_id: str) -> list[dict]:
    """The decisions recorded on one intake, oldest first."""
    query = (select(worker_decisions)
             .where(worker_decisions.c.agency_id == agency_id, worker_decisions.c.report_id == report_id)
             .order_by(worker_decisions.c.id))
    with engine.connect() as con:
        return [dict(row._mapping) for row in con.execute(query)]

