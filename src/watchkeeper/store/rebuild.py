"""Recompute every view from the event log (``watchkeeper db rebuild``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from watchkeeper.store import eventlog, quarantine
from watchkeeper.store.tables import Time, metadata
from watchkeeper.store.view import View
from watchkeeper.store.writer import PG_WRITER_LOCK, apply_views

#: Rebuilds requested of the server, one row per reason: a migration that changes how views
#: fold adds one when the log already holds events, and the next rebuild clears them.
requested = sa.Table(
    "views_rebuild",
    metadata,
    sa.Column("reason", sa.String(200), primary_key=True),
    sa.Column("requested_at", Time, nullable=False),
)


def rebuild(
    engine: sa.Engine, views: Sequence[View], progress: Callable[[int, int], None] | None = None
) -> int:
    """Empty the views' tables and replay the log through them, in one transaction.

    Holding the writer lock for the whole replay means ingest waits rather than interleaving
    with a half-built view; readers keep seeing the old views until the commit. Events whose
    time cannot be shown are moved aside first (:mod:`watchkeeper.store.quarantine`), so the
    replay never folds them in.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_WRITER_LOCK})
        quarantine.move_aside(conn)
        total = eventlog.count(conn)
        for view in views:
            for table in reversed(view.tables):
                conn.execute(table.delete())
        done = 0
        for page in eventlog.replay(conn):
            apply_views(conn, views, page)
            done += len(page)
            if progress is not None:
                progress(done, total)
        quarantine.mark_rebuilt(conn)
        conn.execute(requested.delete())
    return done


def heal(engine: sa.Engine, views: Sequence[View]) -> int | None:
    """Rebuild the views once if an upgrade asked for it: events were moved aside since they
    were built (so no view keeps what those events did), or a migration changed how a view
    folds (:data:`requested`). Returns how many events were replayed, or ``None`` if nothing
    needed it."""
    with engine.connect() as conn:
        wanted = conn.execute(sa.select(requested.c.reason).limit(1)).first() is not None
        if not wanted and not quarantine.needs_rebuild(conn):
            return None
    return rebuild(engine, views)
