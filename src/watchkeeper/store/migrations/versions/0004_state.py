"""The live state view: document keys, counters, folded totals and the error report.

Revision ID: 0004_state
Revises: 0003_dashboard
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_state"
down_revision = "0003_dashboard"
branch_labels = None
depends_on = None

Time = sa.Double
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Byte-wise ordered text, so the descendants of a key are one range of the index.
PathText = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "state_nodes",
        sa.Column("path", PathText, primary_key=True),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("expires_at", Time),
        sa.Column("seq", BigKey, nullable=False),
        sa.Column("ts", Time, nullable=False),
        sa.Column("source", sa.String(200)),
    )
    op.create_index("ix_state_nodes_expires_at", "state_nodes", ["expires_at"])

    op.create_table(
        "state_counters",
        sa.Column("path", PathText, primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("p", sa.Double, nullable=False),
        sa.Column("n", sa.Double, nullable=False),
        sa.Column("seq", BigKey, nullable=False),
    )

    op.create_table(
        "state_totals",
        sa.Column("path", PathText, primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("p", sa.Double, nullable=False),
        sa.Column("n", sa.Double, nullable=False),
    )

    op.create_table(
        "state_errors",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("path", PathText, primary_key=True),
        sa.Column("first_seen", Time, nullable=False),
        sa.Column("last_seen", Time, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("seq", BigKey, nullable=False),
    )
    op.create_index("ix_state_errors_last_seen", "state_errors", ["last_seen"])


def downgrade() -> None:
    for table in ("state_errors", "state_totals", "state_counters", "state_nodes"):
        op.drop_table(table)
