"""The agent's durable state: the outbox of events not yet acknowledged, and small counters.

``<data-dir>/journal.db`` holds ``outbox(id, body)`` — every event meant for the server, in
order, until the server acknowledges it — and ``meta(key, value)``: the next message id, the
next run number of each program, the processes running now (so an agent that was killed can
clean up after itself; recorded with the flush that carries the run's start event, a few ms
after it) and the long-running programs to start again. The outbox id never
repeats (``AUTOINCREMENT``), and with the journal's random ``incarnation`` it makes each event's
id, so a batch sent twice is stored once by the server.

When the file cannot be written (a full disk), a meta change is kept in memory and made by
the next write that succeeds, so a program can still be started (its run number counted on)
and stopped; events are the caller's to keep (:meth:`Journal.append` raises).
"""

from __future__ import annotations

import os
import pathlib
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from watchkeeper.agent.store import CACHE_KIB

#: Rows a caller on the event loop reads or writes in place, not in a worker thread: a small
#: commit (WAL, no fsync) costs less than the round trip to a thread and back.
INLINE = 64
#: A meta key deleted while the file could not be written.
_DELETED = object()
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class Journal:
    """Thread-safe: the flusher and the forwarder use it from worker threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._deferred: dict[str, Any] = {}  # meta changes the file could not take yet
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # The outbox is a queue: written at its end, read and deleted at its start.
        self._conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        with self._conn:
            for statement in _SCHEMA:
                self._conn.execute(statement)
        incarnation = self.get("incarnation")
        if incarnation is None:
            incarnation = secrets.token_hex(6)
            self.put({"incarnation": incarnation})
        self.incarnation: str = incarnation

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if key in self._deferred:
                value = self._deferred[key]
                return default if value is _DELETED else value
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else orjson.loads(row[0])

    def items(self, prefix: str) -> dict[str, Any]:
        """Every meta entry whose key starts with ``prefix`` (the prefix removed)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        return {key[len(prefix) :]: orjson.loads(value) for key, value in rows}

    def put(self, values: Mapping[str, Any], delete: Iterable[str] = ()) -> None:
        """Set and delete meta entries; deferred (not raised) when the file cannot take them."""
        with self._lock:
            self._defer(values, delete)
            try:
                with self._conn:
                    self._put_deferred()
            except (sqlite3.Error, OSError):
                return  # made by the next write that succeeds
            self._deferred = {}

    def defer(self, values: Mapping[str, Any], delete: Iterable[str] = ()) -> None:
        """Set and delete meta entries with the next write (:meth:`append`, :meth:`put`): a
        run's process, say, is recorded with the flush that carries its start event, and one
        that ends before that flush costs no write at all."""
        with self._lock:
            self._defer(values, delete)

    @property
    def deferred(self) -> bool:
        """Whether meta changes wait for the next write."""
        return bool(self._deferred)

    def _defer(self, values: Mapping[str, Any], delete: Iterable[str]) -> None:
        self._deferred.update(dict.fromkeys(delete, _DELETED))
        self._deferred.update(values)

    def _put_deferred(self) -> None:
        """Within the caller's transaction; forgotten by the caller once it has committed."""
        changes = self._deferred
        self._put(
            {key: value for key, value in changes.items() if value is not _DELETED},
            [key for key, value in changes.items() if value is _DELETED],
        )

    def _put(self, values: Mapping[str, Any], delete: Iterable[str]) -> None:
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(key, orjson.dumps(value).decode()) for key, value in values.items()],
        )
        self._conn.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in delete])

    def append(self, bodies: Sequence[bytes], values: Mapping[str, Any] | None = None) -> None:
        """Queue events for the server and update meta entries, in one transaction; raises
        when the file cannot take them (the meta changes are then deferred)."""
        with self._lock:
            self._defer(values or {}, ())
            with self._conn:
                self._conn.executemany(
                    "INSERT INTO outbox (body) VALUES (?)", [(b,) for b in bodies]
                )
                self._put_deferred()
            self._deferred = {}

    def next_counter(self, key: str) -> int:
        """Increment and return a persisted counter (run numbers)."""
        value = int(self.get(key, 0)) + 1
        self.put({key: value})
        return value

    def pending(self, limit: int, max_bytes: int) -> list[tuple[int, bytes]]:
        """The oldest unacknowledged events: at most ``limit`` and about ``max_bytes``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        out, size = [], 0
        for row_id, body in rows:
            size += len(body)
            if out and size > max_bytes:
                break
            out.append((row_id, bytes(body)))
        return out

    def pending_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def ack(self, upto: int, limit: int = 0, max_bytes: int = 0) -> list[tuple[int, bytes]]:
        """The server has stored every event up to ``upto``: forget them. Answers the next
        :meth:`pending` batch when ``limit`` is given (else nothing)."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM outbox WHERE id <= ?", (upto,))
            self._put({"acked": upto}, ())
        return self.pending(limit, max_bytes) if limit else []

    def drop(self, ids: Iterable[int]) -> None:
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
