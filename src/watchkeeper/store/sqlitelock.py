"""Taking SQLite's write lock in short steps, for transactions that sit on a reply's path.

SQLite's own busy handler sleeps 1, 2, 5, 10 ms and more between tries. The command queue's
writes (a submit, an agent taking its command, its result) share the file's one write lock
with the event writer, whose commits take a fraction of a millisecond: with the handler, a
collision cost a command several milliseconds of sleep. :func:`begin` tries again after 0.1 ms,
doubling to 2 ms, for as long as the handler would have waited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from watchkeeper.store.db import BUSY_TIMEOUT_MS

FIRST_PAUSE = 0.0001
LONGEST_PAUSE = 0.002


def fail_fast(engine: sa.Engine) -> None:
    """Make ``engine``'s SQLite connections answer "locked" at once (see :func:`begin`)."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _no_busy_handler(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()


def _locked(exc: sa.exc.OperationalError) -> bool:
    return "locked" in str(exc.orig) or "busy" in str(exc.orig)


@contextmanager
def begin(engine: sa.Engine, patience: float = BUSY_TIMEOUT_MS / 1000) -> Iterator[sa.Connection]:
    """``engine.begin()``, retrying the ``BEGIN`` of a :func:`fail_fast` engine while the file is
    locked. Only the ``BEGIN`` is tried again: once it is through, the lock is this
    transaction's (``BEGIN IMMEDIATE``); after ``patience`` seconds the "locked" error is raised."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    deadline = time.monotonic() + patience
    pause = FIRST_PAUSE
    while True:
        conn = engine.connect()
        try:
            conn.begin()
            break
        except sa.exc.OperationalError as exc:
            conn.close()
            if not _locked(exc) or time.monotonic() > deadline:
                raise
        except BaseException:
            conn.close()
            raise
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)
    with conn:
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
