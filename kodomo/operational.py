"""The operational store: what people do in the app, kept apart from the warehouse (which the app only reads).

Two append-only tables, the accounts and the app's own records:
- ``audit_log``: every view of a child's intake or record (when, who, in which role, what), every decision
  recorded and every sign-in, written before anything is shown;
- ``worker_decisions``: a worker's own decision on an intake, with the probability and model version the
  worker saw;
- ``accounts``: the local accounts people sign in with (``kodomo.appdata.accounts``); changed only through
  audited functions, never deleted (an account is deactivated);
- ``app_intakes`` and ``decision_reviews``: intakes entered in the app and decisions that go to a supervisor
  (``kodomo.intake_entries``), changed only through audited functions;
- ``linkage_decisions``: a supervisor's decision that two child records are, or are not, one child
  (``kodomo.linkage.decisions``), append-only (a changed decision is a new row), applied by every later run;
- ``case_records`` and their versions, ``notices`` with their recipients, acknowledgements of the ``alerts``
  feed's notices, ``notifications`` and who read them (``kodomo.sharing``): the records shared across agencies.

The back end is chosen by configuration (``kodomo.settings``): SQLite at ``$KODOMO_HOME/operational.db``
locally, PostgreSQL at ``KODOMO_POSTGRES_URL`` with ``KODOMO_ENV=production``. The MHLW security guideline asks
for access logs protected against deletion and tampering, and a changed decision is a new row, so:

- database triggers refuse updates, deletes, inserts that would replace a row (SQLite's ``INSERT OR
  REPLACE``), ``TRUNCATE`` (PostgreSQL, where they fire ``ALWAYS``, even under
  ``session_replication_role = replica``) and times other than the database's own;
- each audit row carries ``hash`` = sha256 over its fields and the previous row's hash (``prev_hash``; the
  first row chains to ``GENESIS``); a decision's audit row carries a digest of the decision as stored.
  Appends are serialised (``BEGIN IMMEDIATE`` / an advisory lock), so concurrent writers extend one chain.
  ``verify`` walks the chain and names the first broken link;
- in production the app and pipeline connect as ``Settings.operational_app_role``, which may only insert
  into and read the two tables (and read, add and change accounts); the schema is migrated (Alembic,
  ``kodomo.migrations``) and triggers and grants are made as the owner (``Settings.postgres_url``);
- ``connect`` recreates a missing, changed or disabled protection, logs it and records it in the chain (a
  ``restore_protections`` row, which ``verify`` reports as a break: protections were removed by someone). It
  then checks the chain's last link and logs an error if broken, but still starts: caseworkers must keep
  working, and the evidence stays in the chain for ``kodomo audit verify``.

A superuser who drops the tables, or deletes the newest rows and hides it, leaves a shorter chain that is
valid: ``AuditVerification.last_hash`` is the value to keep outside the store to catch that.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache

from sqlalchemy import (DDL, BigInteger, Boolean, CheckConstraint, Column, Connection, Date, DateTime, Engine, Float,
                        ForeignKey, Index, Integer, MetaData, RowMapping, String, Table, Text, UniqueConstraint,
                        bindparam, create_engine, event, func, insert, inspect, select, text)
from sqlalchemy.engine import make_url

from kodomo import migrations
from kodomo.contracts import contract
from kodomo.settings import Settings

log = logging.getLogger(__name__)

CASEWORKER, SUPERVISOR, HEALTH_STAFF, FAMILY_SUPPORT = "caseworker", "supervisor", "health_staff", "family_support"
MANAGER, DATA_SCIENTIST, ADMIN, SYSTEM = "manager", "data_scientist", "admin", "system"
ROLES = (CASEWORKER, SUPERVISOR, HEALTH_STAFF, FAMILY_SUPPORT, MANAGER, DATA_SCIENTIST, ADMIN)  # an account's role
VIEW_INTAKE, RECORD_DECISION, RESTORE_PROTECTIONS = "view_intake", "record_decision", "restore_protections"
SYSTEM_USER = "kodomo"
GENESIS = "0" * 64  # the "previous hash" of the first audit row
CLOCK_TOLERANCE_SECONDS = 60  # how far a row's time may be from the database's clock when it is inserted
BANDS = ("low", "medium", "high")  # the risk bands of ml.live_scoring, as a decision records the one shown
_APPEND_LOCK = 0x6B6F646F6D6F  # PostgreSQL advisory lock key of audit appends ("kodomo")
_IMMEDIATE = "kodomo_begin_immediate"  # execution option: SQLite transaction that takes the write lock first


class OperationalStoreError(RuntimeError):
    """The store cannot be used safely (e.g. a store made before the audit log was tamper-evident)."""


@cache
def decision_codes() -> tuple[str, ...]:
    """protect / no_protect / undecided, as the assessments contract lists them."""
    return contract("assessments").column("worker_decision").codes


metadata = MetaData()
# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
_ID = BigInteger().with_variant(Integer, "sqlite")
_HASH = String(64)

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
    Column("decision_id", _ID),  # the worker_decisions row a record_decision entry stores
    Column("decision_digest", _HASH),  # sha256 of that decision as stored
    Column("detail", Text),  # what a restore_protections entry restored
    Column("prev_hash", _HASH, nullable=False),
    Column("hash", _HASH, nullable=False),
)
# Lockout after failed sign-ins reads one user's latest sign-in rows.
Index("audit_log_user", audit_log.c.user_id, audit_log.c.id)
# What a row's hash covers: everything but its position (the chain orders rows) and the hash itself.
_CHAINED = [c.name for c in audit_log.columns if c.name not in ("id", "hash")]

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
    Column("disposition", String(32)),  # what the worker recorded (kodomo.intake_entries.DISPOSITIONS)
    Column("amends", _ID),  # the earlier decision on the same intake that this one amends
    Column("band", String(16)),  # the risk band shown with the probability
    CheckConstraint(f"decision in ({', '.join(repr(c) for c in decision_codes())})", name="decision_code"),
    CheckConstraint("length(trim(rationale)) > 0", name="rationale_given"),
    CheckConstraint(f"band is null or band in ({', '.join(repr(b) for b in BANDS)})", name="decision_band"),
)
# The columns of a decision before revision 0004: a decision that leaves the later ones empty is digested over
# these alone, so that decisions recorded before the upgrade keep matching their audit rows.
_FIRST_DECISION_COLUMNS = ("id", "decided_at", "agency_id", "report_id", "person_key", "worker_id", "decision",
                           "rationale", "risk_score_shown", "model_version", "checklist_verdict")
accounts = Table(
    "accounts", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("display_name", String(128), nullable=False),
    Column("agency_id", String(16), nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(255), nullable=False),  # argon2id, of the password peppered with the secret
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"role in ({', '.join(repr(r) for r in ROLES)})", name="account_role"),
    CheckConstraint("length(trim(display_name)) > 0", name="display_name_given"),
)
# The one-stop desk's consultations (kodomo/onestop/consultations.py): a consultation opened with the parent's
# consent, the departments it is routed to, and its thread (append-only: messages between parent and desk, and
# the desk's own records of what it did).
CONSULTATION_DEPARTMENTS = ("child_rearing", "welfare", "housing", "employment", "health")
CONTACT_PREFERENCES = ("in_app", "phone", "visit")
PARENT, DEPARTMENT = "parent", "department"  # who wrote a thread entry
MESSAGE, ACTION = "message", "action"  # a message is between parent and desk; an action is the desk's own record
OPEN, CLOSED = "open", "closed"
_DEPARTMENT_LIST = f"({', '.join(repr(d) for d in CONSULTATION_DEPARTMENTS)})"

consultations = Table(
    "consultations", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("agency_id", String(16), nullable=False),  # the municipality whose desk holds it
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("needs", Text, nullable=False),
    Column("programmes", Text, nullable=False),  # catalogue ids suggested, ";"-separated, in catalogue order
    Column("contact", String(16), nullable=False),
    Column("consent_given_at", DateTime(timezone=True), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("code_expires_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    CheckConstraint("length(trim(needs)) > 0", name="needs_given"),
    CheckConstraint(f"contact in ({', '.join(repr(c) for c in CONTACT_PREFERENCES)})", name="contact_preference"),
    CheckConstraint(f"status in ({OPEN!r}, {CLOSED!r})", name="consultation_status"),
    UniqueConstraint("code_hash", name="consultation_code"),
)
Index("consultations_agency", consultations.c.agency_id, consultations.c.id)

consultation_departments = Table(
    "consultation_departments", metadata,
    Column("consultation_id", _ID, ForeignKey("consultations.id"), primary_key=True),
    Column("department", String(16), primary_key=True),
    CheckConstraint(f"department in {_DEPARTMENT_LIST}", name="routed_department"),
)

consultation_messages = Table(
    "consultation_messages", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("consultation_id", _ID, ForeignKey("consultations.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("sender", String(16), nullable=False),
    Column("department", String(16)),
    Column("staff_id", String(64)),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    CheckConstraint(f"kind in ({MESSAGE!r}, {ACTION!r})", name="message_kind"),
    CheckConstraint("length(trim(text)) > 0", name="message_text_given"),
    CheckConstraint(f"(sender = 'parent' and department is null and staff_id is null and kind = 'message') "
                    f"or (sender = 'department' and department in {_DEPARTMENT_LIST} and staff_id is not null)",
                    name="message_sender"),
)
Index("consultation_messages_thread", consultation_messages.c.consultation_id, consultation_messages.c.id)

# Intakes entered in the app (kodomo/intake_entries.py): the report and its assessment as the worker last saved
# them. ``version`` counts the saves (optimistic locking: a save names the version it started from); the audit log
# records who entered, changed and confirmed each one.
MATCHES = ("existing", "new")  # how the worker confirmed the child: a child the platform knows, or a new one
app_intakes = Table(
    "app_intakes", metadata,
    Column("agency_id", String(16), primary_key=True),
    Column("report_id", String(64), primary_key=True),
    Column("sequence", Integer, nullable=False),  # the agency's running number of app-entered intakes
    Column("version", Integer, nullable=False),
    Column("received_at", DateTime(timezone=False), nullable=False),  # Japan time, as entered (source-feeds.md §3)
    Column("route", String(32), nullable=False),
    Column("abuse_types", String(64), nullable=False),  # the contract's ';'-separated codes
    Column("child_name", String(128), nullable=False),
    Column("child_kana", String(128), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("address_municipality_code", String(6), nullable=False),
    Column("items", Text, nullable=False),  # JSON object: every assessment item -> its code
    Column("local_child_id", String(64), nullable=False),  # the agency's ID for the child in its app deliveries
    Column("person_key", String(64)),
    Column("match", String(16)),
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("version >= 1", name="intake_version"),
    CheckConstraint(f"(match is null and person_key is null) or (match in ({', '.join(repr(m) for m in MATCHES)}) "
                    "and person_key is not null)", name="intake_match"),
    UniqueConstraint("agency_id", "sequence", name="intake_sequence"),
)
# A decision that goes to a supervisor: why, and (once) the supervisor's outcome.
REVIEW_OUTCOMES = ("confirmed", "returned")
decision_reviews = Table(
    "decision_reviews", metadata,
    Column("decision_id", _ID, primary_key=True),  # made with its decision, in one transaction
    Column("agency_id", String(16), nullable=False),
    Column("report_id", String(64), nullable=False),
    Column("reasons", String(64), nullable=False),  # ';'-separated (kodomo.intake_entries.review_reasons)
    Column("outcome", String(16)),
    Column("reviewer_id", String(64)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("comment", Text),
    CheckConstraint(f"(outcome is null and reviewer_id is null and reviewed_at is null) or (outcome in "
                    f"({', '.join(repr(o) for o in REVIEW_OUTCOMES)}) and reviewer_id is not null "
                    "and reviewed_at is not null)", name="review_outcome"),
    CheckConstraint("outcome is null or outcome <> 'returned' or length(trim(coalesce(comment, ''))) > 0",
                    name="returned_with_comment"),
)
Index("decision_reviews_pending", decision_reviews.c.agency_id, decision_reviews.c.outcome)

# The child health record (kodomo/health/store.py): a receiving municipality's acknowledgement of a child's
# health-record handover, and the one-time codes with which a parent opens one child's health record.
health_handover_acks = Table(
    "health_handover_acks", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("agency_id", String(16), nullable=False),  # the receiving municipality
    Column("person_key", String(64), nullable=False),
    Column("moved_on", Date, nullable=False),
    Column("from_agency_id", String(16), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(64), nullable=False),
    UniqueConstraint("agency_id", "person_key", "moved_on", "from_agency_id", name="handover_acknowledged_once"),
)
Index("health_handover_acks_agency", health_handover_acks.c.agency_id, health_handover_acks.c.id)

parent_access_codes = Table(
    "parent_access_codes", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("agency_id", String(16), nullable=False),  # the issuing municipality
    Column("person_key", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(64)),
    UniqueConstraint("code_hash", name="parent_access_code"),
)
Index("parent_access_codes_child", parent_access_codes.c.person_key, parent_access_codes.c.id)

# A supervisor's decision on a pair of child records the linkage was unsure of (kodomo/linkage/decisions.py): the
# pair by its records (agency_id, local_child_id; the smaller record first), which outlive any run's person keys.
LINKAGE_OUTCOMES = ("same", "different")
linkage_decisions = Table(
    "linkage_decisions", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("agency_id_l", String(16), nullable=False),
    Column("local_child_id_l", String(64), nullable=False),
    Column("agency_id_r", String(16), nullable=False),
    Column("local_child_id_r", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("agency_id", String(16), nullable=False),  # the deciding supervisor's agency
    Column("match_probability_shown", Float),
    Column("comment", Text),
    CheckConstraint(f"outcome in ({', '.join(repr(o) for o in LINKAGE_OUTCOMES)})", name="linkage_outcome"),
    CheckConstraint("agency_id_l < agency_id_r or (agency_id_l = agency_id_r and local_child_id_l < local_child_id_r)",
                    name="linkage_pair_ordered"),
)
Index("linkage_decisions_pair", linkage_decisions.c.agency_id_l, linkage_decisions.c.local_child_id_l,
      linkage_decisions.c.agency_id_r, linkage_decisions.c.local_child_id_r, linkage_decisions.c.id)

# Shared records across agencies (kodomo/sharing/): each agency's case record (児童記録票) of a child it works
# with, and every saved version of it; notices (moved / missing / found) sent from a child's record to the agencies
# concerned, each receiver's acknowledgement, and acknowledgements of the notices that arrive through the ``alerts``
# feed; change notifications to the agencies holding a shared child, and who has read them. A child is named by
# its person key and by one of its records (the anchor: agency_id, local_child_id), which outlives a run's keys.
PLAN_STATUSES = ("open", "closed")
case_records = Table(
    "case_records", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("agency_id", String(16), nullable=False),  # the agency that keeps it
    Column("person_key", String(64), nullable=False),
    Column("anchor_agency_id", String(16)),
    Column("anchor_local_child_id", String(64)),
    Column("version", Integer, nullable=False),
    Column("address", Text, nullable=False),
    Column("address_municipality_code", String(6), nullable=False),
    Column("institutions", Text, nullable=False),  # JSON list: {"kind", "name", "contact"}
    Column("household", Text, nullable=False),
    Column("situation", Text, nullable=False),
    Column("support_plan", Text, nullable=False),
    Column("plan_status", String(16), nullable=False),
    Column("worker_id", String(64), nullable=False),  # the worker in charge
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("version >= 1", name="case_record_version"),
    CheckConstraint(f"plan_status in ({', '.join(repr(s) for s in PLAN_STATUSES)})", name="plan_status"),
    UniqueConstraint("agency_id", "person_key", name="one_case_record_per_agency"),
)
case_record_versions = Table(
    "case_record_versions", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_record_id", _ID, ForeignKey("case_records.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("saved_by", String(64), nullable=False),
    Column("content", Text, nullable=False),  # JSON of the record's content as saved
    UniqueConstraint("case_record_id", "version", name="case_record_version_once"),
)
NOTICE_KINDS = ("moved", "missing", "found")
notices = Table(
    "notices", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("person_key", String(64), nullable=False),
    Column("anchor_agency_id", String(16)),
    Column("anchor_local_child_id", String(64)),
    Column("from_agency_id", String(16), nullable=False),
    Column("sent_by", String(64), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("destination_municipality_code", String(6)),  # a moved notice's destination
    # the missing notice a found notice closes, made in the app or delivered through the alerts feed
    Column("closes_ref", String(160)),  # kodomo.sharing.notices: "app:<id>" or "feed:<agency_id>:<alert_id>"
    Column("essentials", Text, nullable=False),  # JSON: what the receiver needs to act without asking
    Column("summary", Text, nullable=False),
    CheckConstraint(f"kind in ({', '.join(repr(k) for k in NOTICE_KINDS)})", name="notice_kind"),
    CheckConstraint("kind <> 'moved' or destination_municipality_code is not null", name="moved_has_destination"),
    CheckConstraint("(kind = 'found') = (closes_ref is not null)", name="found_closes_missing"),
)
Index("notices_child", notices.c.person_key, notices.c.id)
notice_recipients = Table(
    "notice_recipients", metadata,
    Column("notice_id", _ID, ForeignKey("notices.id"), primary_key=True),
    Column("agency_id", String(16), primary_key=True),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(64)),
    CheckConstraint("(acknowledged_at is null) = (acknowledged_by is null)", name="acknowledged_by_someone"),
)
Index("notice_recipients_agency", notice_recipients.c.agency_id, notice_recipients.c.acknowledged_at)
feed_notice_acks = Table(
    "feed_notice_acks", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("agency_id", String(16), nullable=False),  # the receiving agency
    Column("source_agency_id", String(16), nullable=False),  # the alerts feed row's key
    Column("alert_id", String(64), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(64), nullable=False),
    UniqueConstraint("agency_id", "source_agency_id", "alert_id", name="feed_notice_acknowledged_once"),
)
CHANGES = ("report", "assessment", "decision", "substantiation", "protection", "severe_harm", "safety", "move",
           "notice", "checkup", "immunization", "case_record")
notifications = Table(
    "notifications", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("agency_id", String(16), nullable=False),  # the agency told
    Column("person_key", String(64), nullable=False),
    Column("change", String(32), nullable=False),
    Column("source_agency_id", String(16), nullable=False),  # where the change happened
    Column("event_key", String(255), nullable=False),  # what changed, so that a change is told once
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("detail", Text),
    CheckConstraint(f"change in ({', '.join(repr(c) for c in CHANGES)})", name="notification_change"),
    UniqueConstraint("agency_id", "event_key", name="notified_once"),
)
Index("notifications_agency", notifications.c.agency_id, notifications.c.id)
notification_reads = Table(
    "notification_reads", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("notification_id", _ID, ForeignKey("notifications.id"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("notification_id", "user_id", name="read_once"),
)

# Each append-only table and its database-set time.
_STAMPED = {audit_log: "at", worker_decisions: "decided_at", consultation_messages: "at",
            linkage_decisions: "decided_at", case_record_versions: "saved_at", notices: "sent_at",
            feed_notice_acks: "acknowledged_at", notifications: "created_at", notification_reads: "read_at"}
# What the app role may do to each table: append-only logs, accounts that change but are never deleted, a
# consultation whose status alone changes.
_APP_PRIVILEGES = {audit_log: "SELECT, INSERT", worker_decisions: "SELECT, INSERT", accounts: "SELECT, INSERT, UPDATE",
                   consultations: "SELECT, INSERT, UPDATE (status)", consultation_departments: "SELECT, INSERT",
                   consultation_messages: "SELECT, INSERT", app_intakes: "SELECT, INSERT, UPDATE",
                   decision_reviews: "SELECT, INSERT, UPDATE (outcome, reviewer_id, reviewed_at, comment)",
                   health_handover_acks: "SELECT, INSERT",
                   parent_access_codes: "SELECT, INSERT, UPDATE (revoked_at, revoked_by)",
                   linkage_decisions: "SELECT, INSERT",
                   case_records: "SELECT, INSERT, UPDATE", case_record_versions: "SELECT, INSERT",
                   notices: "SELECT, INSERT",
                   notice_recipients: "SELECT, INSERT, UPDATE (acknowledged_at, acknowledged_by)",
                   feed_notice_acks: "SELECT, INSERT", notifications: "SELECT, INSERT",
                   notification_reads: "SELECT, INSERT"}
# The tables of the first revision: a store made before migrations has exactly these.
_BEFORE_MIGRATION_TABLES = frozenset({audit_log.name, worker_decisions.name})


# --- protections: the triggers (and, on PostgreSQL, their functions), by name, with the text that makes them

def _sqlite_protections() -> dict[str, str]:
    made = {}
    for table, stamp in _STAMPED.items():
        t = table.name
        refuse = f"SELECT RAISE(ABORT, '{t} is append-only'); END"
        made |= {
            f"{t}_no_update": f"CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN {refuse}",
            f"{t}_no_delete": f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN {refuse}",
            # INSERT OR REPLACE deletes the row it replaces without firing delete triggers.
            f"{t}_no_replace": f"CREATE TRIGGER {t}_no_replace BEFORE INSERT ON {t} "
                               f"WHEN EXISTS (SELECT 1 FROM {t} WHERE id = NEW.id) BEGIN {refuse}",
            f"{t}_database_time": f"CREATE TRIGGER {t}_database_time BEFORE INSERT ON {t} "
                                  f"WHEN coalesce(abs(julianday(NEW.{stamp}) - julianday('now')) * 86400 "
                                  f"> {CLOCK_TOLERANCE_SECONDS}, 1) "
                                  f"BEGIN SELECT RAISE(ABORT, '{t}.{stamp} must be the database time'); END",
        }
    return made


# Trigger function → its PL/pgSQL body, exactly as pg_proc.prosrc keeps it.
_PG_FUNCTIONS = {
    "kodomo_append_only": " begin raise exception '% is append-only', tg_table_name; end ",
    "kodomo_database_time": (
        " declare stamped timestamptz := (to_jsonb(new) ->> tg_argv[0])::timestamptz; begin"
        f" if stamped is null or abs(extract(epoch from clock_timestamp() - stamped)) > {CLOCK_TOLERANCE_SECONDS}"
        " then raise exception '%.% must be the database time', tg_table_name, tg_argv[0]; end if;"
        " return new; end "),
}


def _pg_triggers(schema: str) -> dict[str, tuple[str, str]]:
    """Trigger name → (table, its definition exactly as ``pg_get_triggerdef`` prints it)."""
    made = {}
    for table, stamp in _STAMPED.items():
        t, on = table.name, f"{schema}.{table.name}"
        made |= {
            f"{t}_append_only": (t, f"CREATE TRIGGER {t}_append_only BEFORE DELETE OR UPDATE ON {on} "
                                    "FOR EACH ROW EXECUTE FUNCTION kodomo_append_only()"),
            f"{t}_no_truncate": (t, f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {on} "
                                    "FOR EACH STATEMENT EXECUTE FUNCTION kodomo_append_only()"),
            f"{t}_database_time": (t, f"CREATE TRIGGER {t}_database_time BEFORE INSERT ON {on} "
                                      f"FOR EACH ROW EXECUTE FUNCTION kodomo_database_time('{stamp}')"),
        }
    return made


def _is_on(name: str, tables: Iterable[str]) -> bool:
    """Whether the protection ``name`` (``<table>_<what>``) guards one of ``tables``."""
    return any(name.startswith(f"{t}_") for t in tables)


def _damaged_protections(con: Connection) -> dict[str, str]:
    """Protections that are missing, changed or (PostgreSQL) not firing always: name → which of these.

    Only the tables the store has are judged: a store at an earlier revision lacks the later tables."""
    present = set(inspect(con).get_table_names())
    tables = [t.name for t in _STAMPED if t.name in present]
    if con.dialect.name == "sqlite":
        found = dict(con.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                      ":tables").bindparams(bindparam("tables", tables, expanding=True))).all())
        return {name: _state(found.get(name)) for name, made in _sqlite_protections().items()
                if _is_on(name, tables) and found.get(name) != made}
    sources = dict(con.execute(text(
        "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
        "AND proname IN :names").bindparams(bindparam("names", list(_PG_FUNCTIONS), expanding=True))).all())
    damaged = {name: _state(sources.get(name)) for name, source in _PG_FUNCTIONS.items()
               if sources.get(name) != source}
    found = {name: (definition, enabled) for name, definition, enabled in con.execute(text(
        "SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger WHERE NOT tgisinternal "
        "AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relname IN :tables)").bindparams(bindparam("tables", tables, expanding=True)))}
    for name, (table, made) in _pg_triggers(con.scalar(text("SELECT current_schema()"))).items():
        if table not in tables:
            continue
        definition, enabled = found.get(name, (None, None))
        if definition != made:
            damaged[name] = _state(definition)
        elif enabled != "A":  # 'A' fires always; 'O' is skipped under session_replication_role = replica
            damaged[name] = "disabled"
    return damaged


def _state(found: str | None) -> str:
    return "missing" if found is None else "changed"


def _install_protections(con: Connection, damaged: Iterable[str]) -> None:
    """(Re)create the named protections; the connection must be the tables' owner's."""
    if con.dialect.name == "sqlite":
        made = _sqlite_protections()
        for name in damaged:
            con.execute(DDL(f"DROP TRIGGER IF EXISTS {name}"))
            con.execute(DDL(made[name]))
        return
    triggers = _pg_triggers(con.scalar(text("SELECT current_schema()")))
    for name in damaged:
        if name in _PG_FUNCTIONS:
            # DDL formats its text with %, hence the doubling.
            con.execute(DDL(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                            f"AS $${_PG_FUNCTIONS[name].replace('%', '%%')}$$"))
            continue
        table, definition = triggers[name]
        con.execute(DDL(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
        con.execute(DDL(definition))
        con.execute(DDL(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}"))


# --- the chain

def _canonical(value):
    """A column value as hashed: times in UTC with microseconds (SQLite returns them naive, in UTC)."""
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value.isoformat(timespec="microseconds")
    return value


def _digest(values: Iterable) -> str:
    serialised = json.dumps([_canonical(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(serialised.encode()).hexdigest()


def _row_hash(row: RowMapping | dict) -> str:
    return _digest(row[name] for name in _CHAINED)


def _digested_columns(decision: Mapping) -> list[str]:
    """What a decision's digest covers: the first revision's columns while the later ones are empty."""
    columns = [c.name for c in worker_decisions.columns]
    if all(decision.get(c) is None for c in columns if c not in _FIRST_DECISION_COLUMNS):
        return list(_FIRST_DECISION_COLUMNS)
    return columns


def _decision_digest(decision: RowMapping) -> str:
    return _digest(decision[c] for c in _digested_columns(decision))


def _break(row: RowMapping, previous: str, decisions: dict[int, RowMapping], audited: set[int]) -> str | None:
    """What is wrong with one audit row, given the hash of the row before it; None when it holds."""
    if row["prev_hash"] != previous:
        return "it does not chain to the row before it (a row was deleted, inserted, moved or rehashed)"
    if _row_hash(row) != row["hash"]:
        return "its content does not match its hash (the row was changed)"
    if (decision_id := row["decision_id"]) is not None:
        if decision_id not in decisions:
            return f"decision {decision_id} it records is missing"
        if decision_id in audited:
            return f"decision {decision_id} is recorded twice"
        if _decision_digest(decisions[decision_id]) != row["decision_digest"]:
            return f"decision {decision_id} no longer matches what was recorded (it was changed)"
        audited.add(decision_id)
    if row["action"] == RESTORE_PROTECTIONS:
        return f"protections had been removed or changed ({row['detail']}) and were restored at start"
    return None


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    rows_checked: int
    first_broken_id: int | None  # the audit row where the chain breaks (None: intact, or a break outside rows)
    message: str  # what is broken, or "N rows"
    last_hash: str = GENESIS  # the intact chain's tail: keep it elsewhere to detect a chain cut short

    @property
    def line(self) -> str:
        """The one line `kodomo audit verify` prints."""
        if self.ok:
            return f"audit log intact: {self.rows_checked} rows"
        where = f" at row {self.first_broken_id}" if self.first_broken_id is not None else ""
        return f"audit log broken{where}: {self.message}"


def verify(engine: Engine) -> AuditVerification:
    """Walk the whole audit chain in order and report its first broken link, then decisions that no audit row
    records, then protections that are missing now."""
    with _snapshot(engine) as con:
        decisions = {row.id: row._mapping for row in con.execute(select(worker_decisions))}
        checked, previous, audited = 0, GENESIS, set()
        for row in con.execute(select(audit_log).order_by(audit_log.c.id)):
            checked += 1
            if problem := _break(row._mapping, previous, decisions, audited):
                return AuditVerification(False, checked, row.id, problem)
            previous = row.hash
        if unaudited := sorted(decisions.keys() - audited):
            return AuditVerification(False, checked, None, f"decision {unaudited[0]} has no audit row")
        if damaged := _damaged_protections(con):
            return AuditVerification(False, checked, None, f"protections {_describe(damaged)}")
    return AuditVerification(True, checked, None, f"{checked} rows", previous)


def _describe(damaged: dict[str, str]) -> str:
    return ", ".join(f"{name} {state}" for name, state in sorted(damaged.items()))


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent view of both tables (a decision and its audit row are committed together)."""
    with engine.connect() as con:
        if con.dialect.name == "postgresql":
            con.execution_options(isolation_level="REPEATABLE READ")
        with con.begin():
            yield con


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the store's write lock (SQLite's, or an advisory lock the app role may take):
    appends and migrations run one at a time, so concurrent writers extend one chain."""
    with engine.connect() as con:
        sqlite = con.dialect.name == "sqlite"
        if sqlite:
            con.execution_options(**{_IMMEDIATE: True})
        with con.begin():
            if not sqlite:
                con.execute(select(func.pg_advisory_xact_lock(_APPEND_LOCK)))
            yield con


@contextmanager
def _appending(engine: Engine) -> Iterator[tuple[Connection, dt.datetime]]:
    """A locked transaction and the database's time read under the lock (rows' times follow the chain)."""
    with _locked(engine) as con:
        if con.dialect.name == "sqlite":
            now = dt.datetime.fromisoformat(con.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")))
        else:
            now = con.scalar(select(func.clock_timestamp()))
        yield con, now


def _append(con: Connection, at: dt.datetime, **fields) -> None:
    """Chain one audit row to the last one; inside ``_appending``."""
    previous = con.scalar(select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)) or GENESIS
    row = {name: fields.get(name) for name in _CHAINED} | {"at": at, "prev_hash": previous}
    con.execute(insert(audit_log).values(**row, hash=_row_hash(row)))


def _check_tail(con: Connection) -> None:
    last = con.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(2)).all()
    if not last:
        return
    tail = last[0]._mapping
    decisions = {row.id: row._mapping for row in con.execute(
        select(worker_decisions).where(worker_decisions.c.id == tail["decision_id"]))}
    if problem := _break(tail, last[1].hash if len(last) == 2 else GENESIS, decisions, set()):
        log.error("audit log broken at row %s: %s (run `kodomo audit verify`)", tail["id"], problem)


# --- connecting

def database_url(settings: Settings) -> str:
    return settings.operational_url


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    # The driver's own transaction handling neither begins before a SELECT nor allows BEGIN IMMEDIATE.
    @event.listens_for(engine, "connect")
    def _leave_transactions_to_sqlalchemy(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(con):
        con.exec_driver_sql("BEGIN IMMEDIATE" if con.get_execution_options().get(_IMMEDIATE) else "BEGIN")

    return engine


def _grant_app_role(con: Connection, role: str) -> None:
    """The app's role: may log in, own nothing, only read and insert into the logs, and never delete an account.
    It has nothing on ``alembic_version``."""
    con.execute(DDL(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN; END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"""))
    con.execute(DDL(f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"))
    con.execute(DDL(f"REVOKE ALL ON {', '.join(t.name for t in _APP_PRIVILEGES)} FROM {role}"))
    for table, privileges in _APP_PRIVILEGES.items():
        con.execute(DDL(f"GRANT {privileges} ON {table.name} TO {role}"))
    sequences = [f"{t.name}_id_seq" for t in _APP_PRIVILEGES if "id" in t.c and t.c.id.autoincrement is True]
    con.execute(DDL(f"GRANT USAGE ON SEQUENCE {', '.join(sequences)} TO {role}"))


# The revision whose schema a store made by ``metadata.create_all`` (before migrations) has.
_BEFORE_MIGRATIONS = "0001"


def _upgrade_schema(con: Connection, settings: Settings) -> None:
    """Bring the schema to the head revision; a store from before migrations is recognised first."""
    tables = set(inspect(con).get_table_names())
    if audit_log.name in tables and "hash" not in {c["name"] for c in inspect(con).get_columns(audit_log.name)}:
        raise OperationalStoreError(f"the operational store {_shown(settings)} predates the tamper-evident audit "
                                    "log: move it aside to start a new one")
    if migrations.current_revision(con) is None and tables & _BEFORE_MIGRATION_TABLES:
        if not _BEFORE_MIGRATION_TABLES <= tables:
            raise OperationalStoreError(f"the operational store {_shown(settings)} has only some of its tables and "
                                        "no migration record: move it aside to start a new one")
        migrations.stamp(con, _BEFORE_MIGRATIONS)
    migrations.upgrade(con)


def _shown(settings: Settings) -> str:
    return make_url(settings.operational_url).render_as_string(hide_password=True)


def _migrate(owner: Engine, settings: Settings) -> list[str]:
    """Migrate the schema and make the protections as the owner; the protections that had to be restored
    (described)."""
    with _locked(owner) as con:
        existing = set(inspect(con).get_table_names()) & {t.name for t in _STAMPED}
        _upgrade_schema(con, settings)
        damaged = _damaged_protections(con)
        _install_protections(con, damaged)
        if con.dialect.name == "postgresql":
            _grant_app_role(con, settings.operational_app_role)
    # A brand-new table's protections are being made, not restored.
    return [f"{name} {state}" for name, state in sorted(damaged.items())
            if name.startswith(tuple(existing)) or (existing and name in _PG_FUNCTIONS)]


def connect(settings: Settings) -> Engine:
    """The environment's operational store, as the app and pipeline use it.

    The schema is upgraded to the head revision and the protections are made (or restored) first, as the owner;
    in production the returned engine connects as the app role."""
    if not settings.is_production:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = owner = _sqlite_engine(settings.operational_url)
    else:
        owner = create_engine(settings.operational_url)
        engine = create_engine(settings.operational_app_url)
    try:
        restored = _migrate(owner, settings)
    except Exception:
        engine.dispose()
        raise
    finally:
        if owner is not engine:
            owner.dispose()
    with engine.connect() as con:
        _check_tail(con)
    if restored:
        log.warning("operational store: restored protections %s", ", ".join(restored))
        with _appending(engine) as (con, now):
            _append(con, now, user_id=SYSTEM_USER, role=SYSTEM, action=RESTORE_PROTECTIONS,
                    detail=", ".join(restored))
    return engine


# --- what the app records

@dataclass(frozen=True)
class AccessEntry:
    user_id: str
    role: str
    action: str
    agency_id: str | None = None
    report_id: str | None = None
    person_key: str | None = None
    detail: str | None = None  # e.g. the purpose stated for opening another jurisdiction's record


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
    disposition: str | None = None  # validated against kodomo.intake_entries.DISPOSITIONS where it is recorded
    amends: int | None = None
    band: str | None = None


class InvalidDecision(ValueError):
    """A decision without a worker, a known code or a rationale: never stored."""


def _validate(decision: WorkerDecision) -> None:
    if not decision.worker_id.strip():
        raise InvalidDecision("a decision needs the worker's ID")
    if decision.decision not in decision_codes():
        raise InvalidDecision(f"decision must be one of {', '.join(decision_codes())}, not {decision.decision!r}")
    if not decision.rationale.strip():
        raise InvalidDecision("a decision needs a rationale")
    if decision.band is not None and decision.band not in BANDS:
        raise InvalidDecision(f"band must be one of {', '.join(BANDS)}, not {decision.band!r}")


def log_access(engine: Engine, *entries: AccessEntry) -> None:
    """Append audit rows in one transaction, in order, timed by the database."""
    with audited(engine) as transaction:
        for entry in entries:
            transaction.log(entry)


@dataclass(frozen=True)
class AuditedTransaction:
    """A change to the store and the audit rows that record it: both are committed, or neither."""
    con: Connection
    now: dt.datetime  # the database's time, read under the store's write lock

    def log(self, entry: AccessEntry) -> None:
        _append(self.con, self.now, **asdict(entry))


@contextmanager
def audited(engine: Engine) -> Iterator[AuditedTransaction]:
    """A transaction holding the store's write lock, for reads that decide what to record and the writes."""
    with _appending(engine) as (con, now):
        yield AuditedTransaction(con, now)


def record_decision(engine: Engine, decision: WorkerDecision, role: str = CASEWORKER) -> None:
    """Store the decision and its audit entry (with the decision's digest and the worker's role) in one
    transaction, timed by the database."""
    with audited(engine) as transaction:
        store_decision(transaction, decision, role)


def store_decision(transaction: AuditedTransaction, decision: WorkerDecision, role: str) -> int:
    """Store a valid decision and its audit entry inside an audited transaction; the decision's ID."""
    _validate(decision)
    entry = AccessEntry(decision.worker_id, role, RECORD_DECISION, decision.agency_id, decision.report_id,
                        decision.person_key)
    con, now = transaction.con, transaction.now
    values = {**asdict(decision), "rationale": decision.rationale.strip(), "decided_at": now}
    columns = _digested_columns(values)  # a store not yet upgraded lacks the later columns; they are empty here
    stored = con.execute(insert(worker_decisions).values({c: values[c] for c in columns if c != "id"}))
    [decision_id] = stored.inserted_primary_key
    row = con.execute(select(*(worker_decisions.c[c] for c in columns))
                      .where(worker_decisions.c.id == decision_id)).one()._mapping
    _append(con, now, **asdict(entry), decision_id=decision_id, decision_digest=_decision_digest(row))
    return decision_id


def decisions_for(engine: Engine, agency_id: str, report_id: str) -> list[dict]:
    """The decisions recorded on one intake, oldest first."""
    query = (select(worker_decisions)
             .where(worker_decisions.c.agency_id == agency_id, worker_decisions.c.report_id == report_id)
             .order_by(worker_decisions.c.id))
    with engine.connect() as con:
        return [dict(row._mapping) for row in con.execute(query)]
