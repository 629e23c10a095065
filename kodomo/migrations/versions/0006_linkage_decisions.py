"""Supervisors' decisions on the linkage's review pairs (kodomo/linkage/decisions.py).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "linkage_decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id_l", sa.String(16), nullable=False),
        sa.Column("local_child_id_l", sa.String(64), nullable=False),
        sa.Column("agency_id_r", sa.String(16), nullable=False),
        sa.Column("local_child_id_r", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("match_probability_shown", sa.Float()),
        sa.Column("comment", sa.Text()),
        sa.CheckConstraint("outcome in ('same', 'different')", name="linkage_outcome"),
        sa.CheckConstraint("agency_id_l < agency_id_r or (agency_id_l = agency_id_r and "
                           "local_child_id_l < local_child_id_r)", name="linkage_pair_ordered"),
    )
    op.create_index("linkage_decisions_pair", "linkage_decisions",
                    ["agency_id_l", "local_child_id_l", "agency_id_r", "local_child_id_r", "id"])
