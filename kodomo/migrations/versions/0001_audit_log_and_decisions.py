"""The append-only audit log and worker decisions, as the store was before migrations (``create_all``).

Revision ID: 0001
Revises: none
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("agency_id", sa.String(16)),
        sa.Column("report_id", sa.String(64)),
        sa.Column("person_key", sa.String(64)),
        sa.Column("decision_id", ID),
        sa.Column("decision_digest", sa.String(64)),
        sa.Column("detail", sa.Text()),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "worker_decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(64)),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("risk_score_shown", sa.Float()),
        sa.Column("model_version", sa.String(32)),
        sa.Column("checklist_verdict", sa.Integer()),
        # the assessments contract's worker_decision codes when this revision was made
        sa.CheckConstraint("decision in ('protect', 'no_protect', 'undecided')", name="decision_code"),
        sa.CheckConstraint("length(trim(rationale)) > 0", name="rationale_given"),
    )
