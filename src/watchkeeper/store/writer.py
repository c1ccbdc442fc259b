"""Group commit of concurrent requests: storing batches, and the in-process writer.

:func:`store_events` and :func:`commit_batches` are what any writer runs; the server's default
runs them in a process of its own (:mod:`watchkeeper.store.writerproc`), and :class:`Writer`
runs them inside the server process (``--writer thread``).

Every ingest request hands its validated batch to ``write`` and waits. The writer takes every
batch waiting at that moment, stores them and updates the views in one transaction, commits,
and only then answers each request. One commit (one fsync) is shared by
all the requests that arrived while the previous one was running, which is what makes
single-event requests cheap. A batch is all or nothing: if the shared transaction fails, each
batch is retried alone so one bad batch cannot take the others down with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import sqlalchemy as sa

from watchkeeper.events import Event, InvalidBatch, Issue
from watchkeeper.store import bulk, db
from watchkeeper.store.tables import events as events_table
from watchkeeper.store.view import View, chunks
from watchkeeper.store.writerbase import STOP_GRACE, Ack, BaseWriter, WriterStopped, settle

log = logging.getLogger(__name__)

#: PostgreSQL advisory lock key that serialises writers of all replicas (seq order = commit order).
PG_WRITER_LOCK = 0x7761746368
EVENT_COLUMNS = (
    "seq",
    "event_id",
    "kind",
    "ts",
    "received_at",
    "level",
    "source",
    "subject",
    "attrs",
    "body",
)


def dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def unstorable(exc: orjson.JSONEncodeError) -> InvalidBatch:
    """A batch the log cannot encode (validation refuses such input before it gets here)."""
    return InvalidBatch([Issue("$", f"cannot be stored: {exc}")], "the batch cannot be stored")


def store_events(
    conn: sa.Connection, views: Sequence[View], batches: Sequence[list[Event]]
) -> list[Ack]:
    """Append ``batches`` to the log and fold them into ``views``, inside ``conn``'s transaction.

    Sequence numbers are assigned here, under the write lock, so they are gap-free and follow
    commit order, which is what lets a live stream resume from ``Last-Event-ID`` safely.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_WRITER_LOCK})
    seq = _last_seq(conn)
    wanted = [e.event_id for batch in batches for e in batch if e.event_id is not None]
    seen: set[str] = set()
    for part in chunks(wanted):
        seen.update(
            conn.execute(
                sa.select(events_table.c.event_id).where(events_table.c.event_id.in_(part))
            ).scalars()
        )
    counts: list[tuple[int, int, int | None, int | None]] = []
    stored: list[Event] = []
    rows: list[tuple[Any, ...]] = []
    for batch in batches:
        first = None
        dups = 0
        for event in batch:
            if event.event_id is not None:
                if event.event_id in seen:
                    dups += 1
                    continue
                seen.add(event.event_id)
            seq += 1
            event.seq = seq
            first = first if first is not None else seq
            stored.append(event)
            try:
                attrs, body = dumps(event.attrs), dumps(event.body)
            except orjson.JSONEncodeError as exc:
                raise unstorable(exc) from None
            rows.append(
                (
                    seq,
                    event.event_id,
                    event.kind,
                    event.ts,
                    event.received_at,
                    event.level,
                    event.source,
                    event.subject,
                    attrs,
                    body,
                )
            )
        counts.append((len(batch), dups, first, seq if first is not None else None))
    results: dict[int, Any] = {}
    if rows:
        bulk.insert(conn, events_table, EVENT_COLUMNS, rows)
        results = apply_views(conn, views, stored)
    return [
        Ack(accepted, dups, first, last, _results_of(results, first, last))
        for accepted, dups, first, last in counts
    ]


def _results_of(results: dict[int, Any], first: int | None, last: int | None) -> dict[int, Any]:
    """The views' answers for the events of one batch (``seq`` from ``first`` to ``last``)."""
    if not results or first is None or last is None:
        return {}
    if len(results) < last - first:
        return {seq: r for seq, r in results.items() if first <= seq <= last}
    return {seq: results[seq] for seq in range(first, last + 1) if seq in results}


def commit_batches(
    engine: sa.Engine, views: Sequence[View], batches: list[list[Event]]
) -> tuple[list[Ack | Exception], int]:
    """Commit ``batches`` in one transaction; if that fails, commit each alone, so one bad
    batch cannot take the others down with it. Returns one result per batch (its :class:`Ack`
    or the exception that refused it) and how many transactions were committed."""
    try:
        with engine.begin() as conn:
            return list(store_events(conn, views, batches)), 1
    except Exception as exc:
        if len(batches) == 1:
            log.exception("commit failed")
            return [exc], 0
    return commit_each(engine, views, batches)


def commit_each(
    engine: sa.Engine, views: Sequence[View], batches: list[list[Event]]
) -> tuple[list[Ack | Exception], int]:
    """Commit each of ``batches`` in a transaction of its own (after a shared one failed)."""
    results: list[Ack | Exception] = []
    commits = 0
    for batch in batches:
        try:
            with engine.begin() as conn:
                results.extend(store_events(conn, views, [batch]))
            commits += 1
        except Exception as exc:
            log.exception("commit of one batch failed")
            results.append(exc)
    return results, commits


def _last_seq(conn: sa.Connection) -> int:
    if conn.dialect.name == "sqlite":
        # Asked once per commit; SQLAlchemy's statement cache lookup costs more than SQLite's
        # answer from the primary key.
        row = db.driver(conn).execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)
    return conn.execute(sa.select(sa.func.max(events_table.c.seq))).scalar() or 0


def apply_views(
    conn: sa.Connection, views: Sequence[View], stored: Sequence[Event]
) -> dict[int, Any]:
    """Fold ``stored`` into every view; what the views answered, by ``seq``."""
    results: dict[int, Any] = {}
    for view in views:
        mine = [e for e in stored if e.kind in view.kinds]
        if mine:
            answered = view.apply(conn, mine)
            if answered:
                results.update(answered)
    return results


class Writer(BaseWriter):
    """Owns the writing thread and the queue of batches waiting to be committed."""

    def __init__(
        self,
        engine: sa.Engine,
        views: Sequence[View],
        *,
        max_group_events: int = 50_000,
        inline_max_events: int = 2_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(on_commit=on_commit)
        self.engine = engine
        self.views = tuple(views)
        self.max_group_events = max_group_events
        # Only SQLite answers a statement without a network round trip, so only there is
        # building the transaction on the loop's thread cheaper than handing it to the writer's.
        self.inline_max_events = inline_max_events if engine.dialect.name == "sqlite" else 0
        self._queue: asyncio.Queue[tuple[list[Event], asyncio.Future[Ack]] | None] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wk-writer")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watchkeeper-writer")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Commit what is queued, then stop (what is acknowledged is always committed); what is
        not committed within ``grace`` seconds is answered 503 instead. A thread cannot be
        stopped, so a commit already under way may still complete after that answer: clients
        that retry set ``event_id`` (the writer process is killed instead, so its transaction
        rolls back)."""
        self._stopping = True
        await self._queue.put(None)
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                log.error("the writer did not finish within %.0f s; stopping anyway", grace)
                self._task.cancel()
                while not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is not None:
                        settle(item[1], WriterStopped("the server stopped before storing this"))
        self._executor.shutdown(wait=self._task is None or self._task.done())

    async def write(self, events: list[Event]) -> Ack:
        if self._stopping:
            raise WriterStopped("the server is shutting down")
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        await self._queue.put((events, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            stop = item is None
            group = [] if item is None else [item]
            size = sum(len(events) for events, _ in group)
            while size < self.max_group_events and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    stop = True
                    continue
                group.append(more)
                size += len(more[0])
            if group and size <= self.inline_max_events:
                await self._commit_group_inline(group, loop)
            elif group:
                await loop.run_in_executor(self._executor, self._commit_group, group, loop)
            if stop and self._queue.empty():
                return

    async def _commit_group_inline(
        self, group: list[tuple[list[Event], asyncio.Future[Ack]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        """Store a small group on the loop's thread; take the lock and commit on the writer's.

        Storing a few dozen events is a millisecond or two of Python that holds the GIL wherever
        it runs; on the writer's thread it competes with the loop's thread for the GIL at every
        statement and takes several times as long, while every client of the group waits. The
        waits stay off the loop: the fsync of ``COMMIT`` runs on the writer's thread, and if
        another process holds the write lock the whole group goes there too.
        """
        conn = self._begin_now()
        batches = [events for events, _ in group]
        if conn is None:
            await loop.run_in_executor(self._executor, self._commit_group, group, loop)
            return
        try:
            acks = store_events(conn, self.views, batches)
        except Exception as exc:
            await loop.run_in_executor(self._executor, self._discard, conn)
            if len(batches) == 1:
                log.exception("commit failed")
                self._resolve(group, [exc], 0)
                return
            # The shared transaction failed: each batch alone, so one bad batch fails alone.
            results, commits = await loop.run_in_executor(
                self._executor, commit_each, self.engine, self.views, batches
            )
            self._resolve(group, results, commits)
            return
        try:
            await loop.run_in_executor(self._executor, self._finish, conn)
        except Exception as exc:
            log.exception("commit failed")
            self._resolve(group, [exc] * len(group), 0)
            return
        self._resolve(group, list(acks), 1)

    def _begin_now(self) -> sa.Connection | None:
        """A connection in a write transaction, or ``None`` if the lock is taken right now."""
        conn = self.engine.connect()
        raw = db.driver(conn)
        try:
            # Never wait for the lock on the loop's thread: fail at once instead.
            raw.execute("PRAGMA busy_timeout=0")
            try:
                conn.begin()
            finally:
                raw.execute(f"PRAGMA busy_timeout={db.BUSY_TIMEOUT_MS}")
        except sa.exc.OperationalError:
            conn.close()
            return None
        return conn

    @staticmethod
    def _finish(conn: sa.Connection) -> None:
        try:
            conn.commit()
        finally:
            conn.close()

    @staticmethod
    def _discard(conn: sa.Connection) -> None:
        try:
            conn.rollback()
        finally:
            conn.close()

    def _commit_group(
        self, group: list[tuple[list[Event], asyncio.Future[Ack]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        results, commits = commit_batches(self.engine, self.views, [events for events, _ in group])
        loop.call_soon_threadsafe(self._resolve, group, results, commits)

    def _resolve(
        self,
        group: list[tuple[list[Event], asyncio.Future[Ack]]],
        results: Sequence[Ack | BaseException],
        commits: int,
    ) -> None:
        self._answer(
            ((future, result) for (_, future), result in zip(group, results, strict=True)), commits
        )
