"""The group-commit writer on SQLite and PostgreSQL: grouping, seq order, failure isolation, and
on SQLite the two ways a group is stored (on the loop's thread, or on the writer's thread when
the group is large or another process holds the write lock)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.store import db
from watchkeeper.store.tables import events as events_table
from watchkeeper.store.writer import Ack, Writer
from watchkeeper.views import ALL_VIEWS
from watchkeeper.views.tasks import tasks as tasks_table


class Boom(RuntimeError):
    pass


class ExplodingView:
    """A view that fails on events carrying ``boom``, the way a broken view would."""

    name = "exploding"
    kinds = frozenset({"test.note"})
    tables: tuple[sa.Table, ...] = ()

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        if any(e.attrs.get("boom") for e in events):
            raise Boom("this view cannot take it")


VIEWS = (*ALL_VIEWS, ExplodingView())


def task_event(task: int, status: str = "created") -> Event:
    attrs = {"task": str(task), "status": status, "producer": "p1", "agent": "a1"}
    return Event("task.status", 1_700_000_000.0 + task, "info", None, f"task:{task}", attrs, {})


def note(boom: bool = False) -> Event:
    return Event("test.note", 1_700_000_000.0, "info", None, None, {"boom": boom}, {})


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = db.make_engine(db_url, writer=True)
    db.upgrade(eng)
    yield eng
    eng.dispose()


def stored_seqs(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(events_table.c.seq).order_by(events_table.c.seq)).scalars()
        )


async def write_all(writer: Writer, batches: list[list[Event]]) -> list[Ack | BaseException]:
    await writer.start()
    try:
        return await asyncio.gather(*(writer.write(b) for b in batches), return_exceptions=True)
    finally:
        await writer.stop()


@pytest.mark.parametrize("inline_max", [2_000, 0], ids=["loop-thread", "writer-thread"])
def test_concurrent_batches_share_commits_and_get_gap_free_seqs(engine, inline_max):
    batches = [[task_event(n * 3 + i) for i in range(3)] for n in range(40)]
    writer = Writer(engine, VIEWS, inline_max_events=inline_max)
    acks = asyncio.run(write_all(writer, batches))
    assert all(isinstance(a, Ack) for a in acks)
    spans = sorted((a.first_seq, a.last_seq) for a in acks)
    assert [s for span in spans for s in range(span[0], span[1] + 1)] == list(range(1, 121))
    assert stored_seqs(engine) == list(range(1, 121))
    assert writer.commits < len(batches)  # grouped: fewer commits than requests
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tasks_table)).scalar() == 120


@pytest.mark.parametrize("inline_max", [2_000, 0], ids=["loop-thread", "writer-thread"])
def test_a_failing_batch_fails_alone_and_stores_nothing(engine, inline_max):
    batches = [[task_event(1), note()], [note(), note(boom=True), task_event(2)], [task_event(3)]]
    writer = Writer(engine, VIEWS, inline_max_events=inline_max)
    acks = asyncio.run(write_all(writer, batches))
    assert isinstance(acks[1], Boom)
    good = [a for a in acks if isinstance(a, Ack)]
    assert sorted(a.accepted for a in good) == [1, 2]
    assert len(stored_seqs(engine)) == 3  # the two good batches, nothing of the bad one
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(tasks_table.c.id)).scalars())
    assert ids == {"1", "3"}


def test_a_lock_held_by_another_process_is_waited_for_off_the_loop(tmp_path):
    path = tmp_path / "wk.db"
    engine = db.make_engine(f"sqlite:///{path}", writer=True)
    db.upgrade(engine)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as another watchkeeper process mid-commit would
    released = threading.Timer(0.6, other.execute, args=("COMMIT",))

    async def scenario() -> tuple[Ack, int]:
        ticks = 0
        writer = Writer(engine, VIEWS)
        await writer.start()
        released.start()
        pending = asyncio.ensure_future(writer.write([task_event(1)]))
        start = time.monotonic()
        while not pending.done():
            await asyncio.sleep(0.01)
            ticks += 1
        waited = time.monotonic() - start
        await writer.stop()
        assert waited >= 0.4  # it did wait for the other process's transaction
        return pending.result(), ticks

    try:
        ack, ticks = asyncio.run(scenario())
    finally:
        released.join()
        other.close()
    assert ack.first_seq == ack.last_seq == 1
    assert ticks >= 20  # the loop kept running while the write waited for the lock
    assert stored_seqs(engine) == [1]
    engine.dispose()
