"""Move events whose time cannot be shown out of the log, into ``events_quarantine``.

Older versions accepted any finite time (``1e300``, an epoch in milliseconds read as
seconds); such an event made every read of it fail. The table keeps each one whole, with the
reason; a marker event keeps its ``seq`` in the log (see ``watchkeeper.store.quarantine``).
The server rebuilds the views once after this has moved anything.

Revision ID: 0006_quarantine
Revises: 0005_history_ts
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from watchkeeper.store import quarantine

revision = "0006_quarantine"
down_revision = "0005_history_ts"
branch_labels = None
depends_on = None

Time = sa.Double
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events_quarantine",
        sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("ts", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("quarantined_at", Time, nullable=False),
        sa.Column("views_rebuilt", sa.Boolean, nullable=False),
    )
    quarantine.move_aside(op.get_bind())


def downgrade() -> None:
    # The markers stay in the log: putting the events back would break every read again.
    op.drop_table("events_quarantine")
