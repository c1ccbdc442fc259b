"""The agent's durable state: the outbox of events not yet acknowledged, and small counters.

``<data-dir>/journal.db`` holds ``outbox(id, body)`` — every event meant for the server, in
order, until the server acknowledges it — and ``meta(key, value)``: the next message id, the
next run number of each program, the processes running now (so an agent that was killed can
clean up after itself) and the long-running programs to start again. The outbox id never
repeats (``AUTOINCREMENT``), and with the journal's random ``incarnation`` it makes each event's
id, so a batch sent twice is stored once by the server.
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
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
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
        with self._lock, self._conn:
            self._put(values, delete)

    def _put(self, values: Mapping[str, Any], delete: Iterable[str]) -> None:
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(key, orjson.dumps(value).decode()) for key, value in values.items()],
        )
        self._conn.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in delete])

    def append(self, bodies: Sequence[bytes], values: Mapping[str, Any] | None = None) -> None:
        """Queue events for the server and update meta entries, in one transaction."""
        with self._lock, self._conn:
            self._conn.executemany("INSERT INTO outbox (body) VALUES (?)", [(b,) for b in bodies])
            if values:
                self._put(values, ())

    def next_counter(self, key: str) -> int:
        """Increment and return a persisted counter (run numbers)."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value = (orjson.loads(row[0]) if row else 0) + 1
            self._put({key: value}, ())
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

    def ack(self, upto: int) -> None:
        """The server has stored every event up to ``upto``: forget them."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM outbox WHERE id <= ?", (upto,))
            self._put({"acked": upto}, ())

    def drop(self, ids: Iterable[int]) -> None:
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
