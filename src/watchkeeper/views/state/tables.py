"""The state view's tables (see :mod:`watchkeeper.views.state`), and the key ranges of a
subtree: a key's descendants are one range of the primary key."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.store.tables import BigKey, Time, metadata

#: Paths compare byte by byte on every backend (PostgreSQL's "C" collation, SQLite's default),
#: which is what makes "every descendant of /a" the range ``[/a/, /a0)``.
PathText = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

state_nodes = sa.Table(
    "state_nodes",
    metadata,
    sa.Column("path", PathText, primary_key=True),
    sa.Column("kind", sa.String(3), nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("expires_at", Time),
    sa.Column("seq", BigKey, nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Index("ix_state_nodes_expires_at", "expires_at"),
)

state_counters = sa.Table(
    "state_counters",
    metadata,
    sa.Column("path", PathText, primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("p", sa.Double, nullable=False),
    sa.Column("n", sa.Double, nullable=False),
    sa.Column("seq", BigKey, nullable=False),
)

state_totals = sa.Table(
    "state_totals",
    metadata,
    sa.Column("path", PathText, primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("p", sa.Double, nullable=False),
    sa.Column("n", sa.Double, nullable=False),
)

state_errors = sa.Table(
    "state_errors",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("path", PathText, primary_key=True),
    sa.Column("first_seen", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("seq", BigKey, nullable=False),
    sa.Index("ix_state_errors_last_seen", "last_seen"),
)


def after(pointer: str) -> tuple[str, str]:
    """The half-open range ``[pointer/, pointer0)`` holding exactly its descendants."""
    return pointer + "/", pointer + "0"


def subtree(column: sa.ColumnElement[str], pointer: str) -> sa.ColumnElement[bool]:
    low, high = after(pointer)
    return sa.or_(column == pointer, sa.and_(column >= low, column < high))


def ancestors(pointer: str) -> list[str]:
    """The pointers of ``pointer``'s ancestors, outermost first (segments never hold a raw /)."""
    return [pointer[:i] for i in range(1, len(pointer)) if pointer[i] == "/"]
