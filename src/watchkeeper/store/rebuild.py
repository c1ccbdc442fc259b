"""Recompute every view from the event log (``watchkeeper db rebuild``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from watchkeeper.store import eventlog, quarantine
from watchkeeper.store.view import View
from watchkeeper.store.writer import PG_WRITER_LOCK, apply_views


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
    return done


def heal(engine: sa.Engine, views: Sequence[View]) -> int | None:
    """Rebuild the views if events were moved aside since they were built (the upgrade that
    quarantines an older log's unshowable events does so), so no view keeps what those
    events did; returns how many events were replayed, or ``None`` if nothing needed it."""
    with engine.connect() as conn:
        if not quarantine.needs_rebuild(conn):
            return None
    return rebuild(engine, views)
