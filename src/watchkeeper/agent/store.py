"""The local log store: every kept message in SQLite, rotated by size, queried across files.

``<dir>/current.db`` holds the table ``logs(id, jobid, domain, name, epoch, level, data)``.
When it reaches ``rotate_bytes`` it is renamed ``<epoch>.db`` (the rotation time) and a new
``current.db`` starts; queries read the current file and the rotated ones, newest first.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from watchkeeper.agent.levels import LevelFilter, parse_levels

CURRENT = "current.db"
MAX_LIMIT = 1000
#: The page cache of each connection, in KiB.
CACHE_KIB = 512
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS logs (id INTEGER NOT NULL, jobid TEXT, domain TEXT, "
    "name TEXT, epoch INTEGER, level INTEGER, data TEXT)",
    "CREATE INDEX IF NOT EXISTS ix_logs_id ON logs (id)",
    "CREATE INDEX IF NOT EXISTS ix_logs_jobid ON logs (jobid, id)",
    "CREATE INDEX IF NOT EXISTS ix_logs_epoch ON logs (epoch)",
)
#: One stored row: (id, jobid, domain, name, epoch, level, data).
Row = tuple[int, str | None, str | None, str | None, int, int, str]


@dataclass(slots=True, frozen=True)
class Record:
    id: int
    jobid: str | None
    domain: str | None
    name: str | None
    epoch: int
    level: int
    data: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "jobid": self.jobid,
            "domain": self.domain,
            "name": self.name,
            "epoch": self.epoch,
            "level": self.level,
            "data": self.data,
        }


class LogStore:
    """Not thread-safe: one caller at a time (the agent serialises access)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        rotate_bytes: int = 100 << 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rotate_bytes = rotate_bytes
        self.clock = clock
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.dir / CURRENT, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Rows are appended (ids and epochs grow): a small page cache holds the pages
        # being written; SQLite's default of 2 MiB per connection is resident for nothing.
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.commit()
        return conn

    def last_id(self) -> int:
        """The highest id in the current file (ids only grow, so it is the highest of all)."""
        row = self._conn.execute("SELECT max(id) FROM logs").fetchone()
        return int(row[0] or 0)

    def write(self, rows: Sequence[Row]) -> None:
        """Store ``rows`` in one transaction, then rotate if the file has grown too big."""
        if not rows:
            return
        with self._conn:
            self._conn.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        if self._size() >= self.rotate_bytes:
            self.rotate()

    def _size(self) -> int:
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)

    def rotate(self) -> pathlib.Path:
        """Close ``current.db`` as ``<epoch>.db`` and start a new one."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        stamp = int(self.clock())
        target = self.dir / f"{stamp}.db"
        while target.exists():  # two rotations within a second
            stamp += 1
            target = self.dir / f"{stamp}.db"
        (self.dir / CURRENT).rename(target)
        for suffix in ("-wal", "-shm"):
            (self.dir / f"{CURRENT}{suffix}").unlink(missing_ok=True)
        self._conn = self._open()
        return target

    def files(self) -> list[tuple[int | None, pathlib.Path]]:
        """``current.db`` first, then the rotated files, newest first."""
        rotated = []
        for path in self.dir.glob("*.db"):
            if path.stem.isdigit():
                rotated.append((int(path.stem), path))
        rotated.sort(reverse=True)
        return [(None, self.dir / CURRENT), *rotated]

    def query(
        self,
        *,
        jobid: str | None = None,
        timefrom: float | None = None,
        timeto: float | None = None,
        levels: str | int | Sequence[int] | LevelFilter | None = None,
        limit: int = 20,
    ) -> list[Record]:
        """Messages matching every given filter, newest first (by id), at most ``limit``."""
        where, params = _filters(jobid, timefrom, timeto, levels, limit)
        sql = (
            "SELECT id, jobid, domain, name, epoch, level, data FROM logs WHERE "
            + " AND ".join(where)
            + " ORDER BY id DESC LIMIT ?"
        )
        found: list[Record] = []
        for rotated_at, path in self.files():
            if rotated_at is not None and timefrom is not None and rotated_at < timefrom:
                break  # every message in this file (and older ones) came before ``timefrom``
            found.extend(self._read(path, rotated_at is None, sql, [*params, limit - len(found)]))
            if len(found) >= limit:
                break
        return found

    def delete(
        self,
        *,
        jobid: str | None = None,
        timefrom: float | None = None,
        timeto: float | None = None,
        levels: str | int | Sequence[int] | LevelFilter | None = None,
        limit: int = 20,
    ) -> int:
        """Delete the messages :meth:`query` would answer (newest first, at most ``limit``);
        how many were deleted."""
        where, params = _filters(jobid, timefrom, timeto, levels, limit)
        sql = (
            "DELETE FROM logs WHERE rowid IN (SELECT rowid FROM logs WHERE "
            + " AND ".join(where)
            + " ORDER BY id DESC LIMIT ?)"
        )
        deleted = 0
        for rotated_at, path in self.files():
            if rotated_at is not None and timefrom is not None and rotated_at < timefrom:
                break
            conn = self._conn if rotated_at is None else sqlite3.connect(path)
            try:
                with conn:
                    deleted += conn.execute(sql, [*params, limit - deleted]).rowcount
            except sqlite3.DatabaseError:
                continue
            finally:
                if conn is not self._conn:
                    conn.close()
            if deleted >= limit:
                break
        return deleted

    def _read(self, path: pathlib.Path, current: bool, sql: str, params: list[Any]) -> Iterable:
        if current:
            return [Record(*row) for row in self._conn.execute(sql, params)]
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [Record(*row) for row in conn.execute(sql, params)]
        except sqlite3.DatabaseError:
            return []  # a damaged rotated file must not hide the others
        finally:
            conn.close()

    def close(self) -> None:
        self._conn.close()


def _filters(
    jobid: str | None,
    timefrom: float | None,
    timeto: float | None,
    levels: str | int | Sequence[int] | LevelFilter | None,
    limit: int,
) -> tuple[list[str], list[Any]]:
    """The WHERE clauses and parameters of a query by job, time range and levels."""
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    wanted = levels if isinstance(levels, LevelFilter) else parse_levels(levels)
    where, params = [], []
    if jobid is not None:
        where.append("jobid = ?")
        params.append(jobid)
    if timefrom is not None:
        where.append("epoch >= ?")
        params.append(int(timefrom))
    if timeto is not None:
        where.append("epoch <= ?")
        params.append(int(timeto))
    if wanted.levels is None:
        where.append("level != 10")
    else:
        where.append(f"level IN ({','.join(str(n) for n in sorted(wanted.levels))})")
    return where, params
