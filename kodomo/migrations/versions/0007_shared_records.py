"""Shared records across agencies (kodomo/sharing/): case records and their versions, notices and their
recipients, acknowledgements of the alerts feed's notices, change notifications and who read them.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHANGES = ("report", "assessment", "decision", "substantiation", "protection", "severe_harm", "safety", "move",
           "notice", "checkup", "immunization", "case_record")


def _codes(values) -> str:
    return ", ".join(repr(v) for v in values)


def upgrade() -> None:
    op.create_table(
        "case_records",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("anchor_agency_id", sa.String(16)),
        sa.Column("anchor_local_child_id", sa.String(64)),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("address_municipality_code", sa.String(6), nullable=False),
        sa.Column("institutions", sa.Text(), nullable=False),
        sa.Column("household", sa.Text(), nullable=False),
        sa.Column("situation", sa.Text(), nullable=False),
        sa.Column("support_plan", sa.Text(), nullable=False),
        sa.Column("plan_status", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name="case_record_version"),
        sa.CheckConstraint("plan_status in ('open', 'closed')", name="plan_status"),
        sa.UniqueConstraint("agency_id", "person_key", name="one_case_record_per_agency"),
    )
    op.create_table(
        "case_record_versions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_record_id", ID, sa.ForeignKey("case_records.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.UniqueConstraint("case_record_id", "version", name="case_record_version_once"),
    )
    op.create_table(
        "notices",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("anchor_agency_id", sa.String(16)),
        sa.Column("anchor_local_child_id", sa.String(64)),
        sa.Column("from_agency_id", sa.String(16), nullable=False),
        sa.Column("sent_by", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destination_municipality_code", sa.String(6)),
        sa.Column("closes_ref", sa.String(160)),
        sa.Column("essentials", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.CheckConstraint("kind in ('moved', 'missing', 'found')", name="notice_kind"),
        sa.CheckConstraint("kind <> 'moved' or destination_municipality_code is not null",
                           name="moved_has_destination"),
        sa.CheckConstraint("(kind = 'found') = (closes_ref is not null)", name="found_closes_missing"),
    )
    op.create_index("notices_child", "notices", ["person_key", "id"])
    op.create_table(
        "notice_recipients",
        sa.Column("notice_id", ID, sa.ForeignKey("notices.id"), primary_key=True),
        sa.Column("agency_id", sa.String(16), primary_key=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.CheckConstraint("(acknowledged_at is null) = (acknowledged_by is null)", name="acknowledged_by_someone"),
    )
    op.create_index("notice_recipients_agency", "notice_recipients", ["agency_id", "acknowledged_at"])
    op.create_table(
        "feed_notice_acks",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("source_agency_id", sa.String(16), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("agency_id", "source_agency_id", "alert_id", name="feed_notice_acknowledged_once"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("source_agency_id", sa.String(16), nullable=False),
        sa.Column("event_key", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.CheckConstraint(f"change in ({_codes(CHANGES)})", name="notification_change"),
        sa.UniqueConstraint("agency_id", "event_key", name="notified_once"),
    )
    op.create_index("notifications_agency", "notifications", ["agency_id", "id"])
    op.create_table(
        "notification_reads",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("notification_id", ID, sa.ForeignKey("notifications.id"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("notification_id", "user_id", name="read_once"),
    )
