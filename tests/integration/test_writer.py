"""The group-commit writers on SQLite and PostgreSQL: grouping, seq order, failure isolation.

Both writers are covered: the writer process (the server's default) and the in-process
writer, with its two ways of storing a group on SQLite (on the loop's thread, or on the
writer's thread when the group is large or another process holds the write lock)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import psutil
import pytest
import sqlalchemy as sa

from watchkeeper.events import Event, lamia
from watchkeeper.store import db
from watchkeeper.store.tables import events as events_table
from watchkeeper.store.writer import Ack, Writer
from watchkeeper.store.writerbase import BaseWriter
from watchkeeper.store.writerproc import ProcessWriter, WriterFailed
from watchkeeper.views import ALL_VIEWS, ALL_VIEWS_REF
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


# --- the writer process ----------------------------------------------------------------------


def broken_task_event() -> Event:
    """A task event without the fields the tasks view needs, as only a broken translator
    could make: the view fails on it inside the writer process."""
    return Event("task.status", 1_700_000_000.0, "info", None, None, {"status": "x"}, {})


def process_writer(engine: sa.Engine) -> ProcessWriter:
    return ProcessWriter(engine, ALL_VIEWS_REF)


def test_process_writer_groups_batches_with_gap_free_seqs(engine):
    batches = [[task_event(n * 3 + i) for i in range(3)] for n in range(40)]
    committed: list[int] = []
    writer = ProcessWriter(engine, ALL_VIEWS_REF, on_commit=committed.append)
    acks = asyncio.run(write_all(writer, batches))
    assert all(isinstance(a, Ack) for a in acks)
    spans = sorted((a.first_seq, a.last_seq) for a in acks)
    assert [s for span in spans for s in range(span[0], span[1] + 1)] == list(range(1, 121))
    assert stored_seqs(engine) == list(range(1, 121))
    assert writer.committed_events == 120
    assert 1 <= writer.commits < len(batches)
    assert committed[-1] == 120


def with_event_id(event: Event, event_id: str) -> Event:
    event.event_id = event_id
    return event


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_each_writer_counts_and_reports_what_it_committed(engine, kind):
    committed: list[int] = []
    writer: BaseWriter = (
        Writer(engine, ALL_VIEWS, on_commit=committed.append)
        if kind == "thread"
        else ProcessWriter(engine, ALL_VIEWS_REF, on_commit=committed.append)
    )

    async def scenario() -> list[Ack | BaseException]:
        await writer.start()
        answers: list[Ack | BaseException] = []
        try:
            for batch in (
                [with_event_id(task_event(1), "one"), task_event(2)],
                [with_event_id(task_event(1), "one"), task_event(3)],  # one duplicate
                [broken_task_event()],
            ):
                try:
                    answers.append(await writer.write(batch))
                except Exception as exc:
                    answers.append(exc)
        finally:
            await writer.stop()
        return answers

    first, second, failed = asyncio.run(scenario())
    assert (first, second) == (Ack(2, 0, 1, 2), Ack(2, 1, 3, 3))
    assert isinstance(failed, Exception) and not isinstance(failed, Ack)
    assert (writer.committed_events, writer.commits) == (3, 2)
    assert committed == [2, 3]


def test_process_writer_fails_a_bad_batch_alone(engine):
    batches = [[task_event(1)], [task_event(2), broken_task_event()], [task_event(3)]]
    acks = asyncio.run(write_all(process_writer(engine), batches))
    assert isinstance(acks[1], WriterFailed)
    assert "KeyError" in str(acks[1])
    assert [a.accepted for a in acks if isinstance(a, Ack)] == [1, 1]
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(tasks_table.c.id)).scalars())
    assert ids == {"1", "3"}
    assert len(stored_seqs(engine)) == 2


def test_process_writer_starts_a_new_child_when_its_child_dies(engine):
    async def scenario() -> tuple[Ack, Ack, int, int]:
        writer = process_writer(engine)
        await writer.start()
        first = await writer.write([task_event(1)])
        old = writer._proc
        assert old is not None
        old.kill()
        old.wait()
        for _ in range(200):  # the server notices the socket close
            if writer._stream is None or writer._stream.is_closing():
                break
            await asyncio.sleep(0.01)
        second = await writer.write([task_event(2)])
        new_pid = writer._proc.pid if writer._proc else 0
        await writer.stop()
        return first, second, old.pid, new_pid

    first, second, old_pid, new_pid = asyncio.run(scenario())
    assert (first.last_seq, second.first_seq) == (1, 2)
    assert old_pid != new_pid
    assert stored_seqs(engine) == [1, 2]


def test_the_child_exits_when_the_server_is_gone(engine):
    async def scenario() -> int:
        writer = process_writer(engine)
        await writer.start()
        await writer.write([task_event(1)])
        assert writer._stream is not None and writer._proc is not None
        writer._stream.transport.abort()  # as if the server process had been killed
        return await asyncio.to_thread(writer._proc.wait, 10)

    assert asyncio.run(scenario()) == 0
    assert stored_seqs(engine) == [1]


def test_process_writer_carries_a_job_events_outcome_back(engine):
    """The progress a Lamia job is answered with is what the view computed in the child."""
    created = lamia.task_created(
        "t", orjson.dumps({"processes": {"arr": 2}}), client_ip=None, now=1.0
    )
    done = lamia.job_event("t", "arr", 0, b'{"eventClass": "DONE"}', client_ip=None, now=2.0)

    async def scenario() -> tuple[bool, Any]:
        writer = process_writer(engine)
        await writer.start()
        await writer.write([created])
        ack = await writer.write(done)
        await writer.stop()
        return ack.first_seq in ack.results, ack.results.get(ack.first_seq)

    known, outcome = asyncio.run(scenario())
    assert known
    assert tuple(outcome) == (50.0, False)


def test_the_database_url_is_not_on_the_childs_command_line(engine):
    async def scenario() -> list[str]:
        writer = process_writer(engine)
        await writer.start()
        assert writer._proc is not None
        cmdline = psutil.Process(writer._proc.pid).cmdline()
        await writer.stop()
        return cmdline

    cmdline = " ".join(asyncio.run(scenario()))
    assert "watchkeeper.store.writerproc" in cmdline
    assert engine.url.database not in cmdline  # a URL may carry a password


def any_writer(engine: sa.Engine, kind: str) -> BaseWriter:
    if kind == "process":
        return process_writer(engine)
    return Writer(engine, VIEWS, inline_max_events=2_000 if kind == "loop-thread" else 0)


@pytest.mark.parametrize("kind", ["loop-thread", "writer-thread", "process"])
def test_each_writer_hands_every_batch_the_views_answers_for_its_own_events(engine, kind):
    """A view's answers (here a Lamia job's progress) reach the request that stored the event,
    whichever way the writer commits: concurrent batches grouped in one transaction, and each
    alone after a bad batch failed the shared one."""
    created = lamia.task_created(
        "t", orjson.dumps({"processes": {"arr": 4}}), client_ip=None, now=1.0
    )
    jobs = [
        lamia.job_event("t", "arr", i, b'{"eventClass": "DONE"}', client_ip=None, now=2.0 + i)
        for i in range(4)
    ]
    gone = lamia.job_event("t", "gone", None, b'{"eventClass": "DONE"}', client_ip=None, now=9.0)
    batches = [*jobs, gone, [task_event(1)]]
    if kind != "process":
        batches.append([note(boom=True)])  # fails the shared transaction: each alone then
    writer = any_writer(engine, kind)

    async def scenario() -> list[Ack | BaseException]:
        await writer.start()
        try:
            await writer.write([created])
            return await asyncio.gather(*(writer.write(b) for b in batches), return_exceptions=True)
        finally:
            await writer.stop()

    acks = asyncio.run(scenario())
    answered = [a for a in acks if isinstance(a, Ack)]
    assert len(answered) == 6
    for ack in answered:
        assert ack.first_seq is not None and ack.last_seq is not None
        assert set(ack.results) <= set(range(ack.first_seq, ack.last_seq + 1))
    # A job event and its task status: only the job event is answered, with its progress.
    progress = sorted(tuple(a.results[a.first_seq]) for a in answered[:4])
    assert progress == [(25.0, False), (50.0, False), (75.0, False), (100.0, True)]
    assert all(len(a.results) == 1 for a in answered[:4])
    assert answered[4].results == {answered[4].first_seq: None}  # no such process
    assert answered[5].results == {}  # no view answers a task status
