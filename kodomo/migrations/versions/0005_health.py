"""The child health record: handover acknowledgements and parents' access codes (kodomo/health/store.py).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "health_handover_acks",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=False),
        sa.Column("from_agency_id", sa.String(16), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("agency_id", "person_key", "moved_on", "from_agency_id",
                            name="handover_acknowledged_once"),
    )
    op.create_index("health_handover_acks_agency", "health_handover_acks", ["agency_id", "id"])
    op.create_table(
        "parent_access_codes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", sa.String(64)),
        sa.UniqueConstraint("code_hash", name="parent_access_code"),
    )
    op.create_index("parent_access_codes_child", "parent_access_codes", ["person_key", "id"])

