"""Local accounts for signing in, and an index to find a user's recent sign-ins in the audit log.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role in ('caseworker', 'supervisor', 'health_staff', 'family_support', 'manager', "
                           "'data_scientist', 'admin')", name="account_role"),
        sa.CheckConstraint("length(trim(display_name)) > 0", name="display_name_given"),
    )
    # Lockout after failed sign-ins reads one user's latest sign-in rows.
    op.create_index("audit_log_user", "audit_log", ["user_id", "id"])
