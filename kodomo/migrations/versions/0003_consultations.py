"""The one-stop desk's shared consultations: the record, the departments it is routed to, and its thread.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEPARTMENTS = "('child_rearing', 'welfare', 'housing', 'employment', 'health')"


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("programmes", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(16), nullable=False),
        sa.Column("consent_given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint("length(trim(needs)) > 0", name="needs_given"),
        sa.CheckConstraint("contact in ('in_app', 'phone', 'visit')", name="contact_preference"),
        sa.CheckConstraint("status in ('open', 'closed')", name="consultation_status"),
        sa.UniqueConstraint("code_hash", name="consultation_code"),
    )
    op.create_index("consultations_agency", "consultations", ["agency_id", "id"])
    op.create_table(
        "consultation_departments",
        sa.Column("consultation_id", ID, sa.ForeignKey("consultations.id"), primary_key=True),
        sa.Column("department", sa.String(16), primary_key=True),
        sa.CheckConstraint(f"department in {DEPARTMENTS}", name="routed_department"),
    )
    op.create_table(
        "consultation_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("consultation_id", ID, sa.ForeignKey("consultations.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("department", sa.String(16)),
        sa.Column("staff_id", sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.CheckConstraint("kind in ('message', 'action')", name="message_kind"),
        sa.CheckConstraint("length(trim(text)) > 0", name="message_text_given"),
        sa.CheckConstraint(f"(sender = 'parent' and department is null and staff_id is null and kind = 'message') "
                           f"or (sender = 'department' and department in {DEPARTMENTS} and staff_id is not null)",
                           name="message_sender"),
    )
    op.create_index("consultation_messages_thread", "consultation_messages", ["consultation_id", "id"])
