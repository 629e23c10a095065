"""Intakes entered in the app, decisions' dispositions, amendments and bands, and the supervisor's reviews.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# SQLite autoincrements only an INTEGER primary key; PostgreSQL gets a BIGSERIAL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Added empty: a decision recorded before keeps its digest (kodomo.operational._decision_digest). SQLite adds
    # no constraint to an existing table, so the band's check is made by the code (InvalidDecision) there.
    op.add_column("worker_decisions", sa.Column("disposition", sa.String(32)))
    op.add_column("worker_decisions", sa.Column("amends", ID))
    op.add_column("worker_decisions", sa.Column("band", sa.String(16)))
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint("decision_band", "worker_decisions",
                                   "band is null or band in ('low', 'medium', 'high')")
    op.create_table(
        "app_intakes",
        sa.Column("agency_id", sa.String(16), primary_key=True),
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("abuse_types", sa.String(64), nullable=False),
        sa.Column("child_name", sa.String(128), nullable=False),
        sa.Column("child_kana", sa.String(128), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("address_municipality_code", sa.String(6), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("local_child_id", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(64)),
        sa.Column("match", sa.String(16)),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name="intake_version"),
        sa.CheckConstraint("(match is null and person_key is null) or (match in ('existing', 'new') "
                           "and person_key is not null)", name="intake_match"),
        sa.UniqueConstraint("agency_id", "sequence", name="intake_sequence"),
    )
    op.create_table(
        "decision_reviews",
        sa.Column("decision_id", ID, primary_key=True),
        sa.Column("agency_id", sa.String(16), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("reasons", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("reviewer_id", sa.String(64)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("comment", sa.Text()),
        sa.CheckConstraint("(outcome is null and reviewer_id is null and reviewed_at is null) or (outcome in "
                           "('confirmed', 'returned') and reviewer_id is not null and reviewed_at is not null)",
                           name="review_outcome"),
        sa.CheckConstraint("outcome is null or outcome <> 'returned' or length(trim(coalesce(comment, ''))) > 0",
                           name="returned_with_comment"),
    )
    op.create_index("decision_reviews_pending", "decision_reviews", ["agency_id", "outcome"])
