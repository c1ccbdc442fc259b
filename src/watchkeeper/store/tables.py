"""The shared metadata and the append-only event log table.

Each view declares its own tables (in ``watchkeeper.views``) on this same metadata; the
migrations in ``store/migrations`` are the authority on the schema actually created.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

#: Epoch seconds as a double on every backend.
Time = sa.Double

#: A 64-bit key that is SQLite's rowid alias there (cheap appends) and a bigint elsewhere.
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def event_columns() -> list[sa.Column[Any]]:
    """The columns of a stored event (new objects each call: a column belongs to one table);
    the log has them, and so has every table that keeps events whole (the quarantine)."""
    return [
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
    ]


events = sa.Table(
    "events",
    metadata,
    *event_columns(),
    sa.Index("ix_events_event_id", "event_id", unique=True),
    sa.Index("ix_events_kind_seq", "kind", "seq"),
)
