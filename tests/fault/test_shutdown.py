"""Shutdown always ends: after JSON nested deeper than the encoder takes, with a batch the
writer process cannot take, and with a writer process that stopped answering."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import httpx
import pytest
import sqlalchemy as sa

from tests.support import ServerProcess
from watchkeeper.events import Event, InvalidBatch
from watchkeeper.store import db
from watchkeeper.store.writer import Ack, Writer, WriterStopped
from watchkeeper.store.writerproc import ProcessWriter
from watchkeeper.views import ALL_VIEWS, ALL_VIEWS_REF

#: Longer than the server's grace periods (10 s for connections, 10 s for the writer), far
#: shorter than forever.
EXIT_WITHIN = 30


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_sigterm_after_deep_json_ends(tmp_path):
    log = tmp_path / "server.log"
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'wk.db'}", log_path=str(log), args=["--log-level", "info"]
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for depth in (255, 300, 1024):
                body = b'{"kind": "x", "a": ' + nested(depth - 1) + b"}"
                refused = client.post("/api/v1/events", content=body)
                assert refused.status_code == 422, refused.text
                state = b'{"source": "s", "k": ' + nested(depth - 1) + b"}"
                assert client.post("/api/v1/state", content=state).status_code == 422
            stored = client.post("/api/v1/events", json={"kind": "x"})
            assert stored.status_code == 202 and stored.json()["first_seq"] == 1
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        # uvicorn ends a graceful shutdown by raising the signal it caught again.
        assert server.proc.wait(EXIT_WITHIN) in (0, -signal.SIGTERM)
    finally:
        server.kill()
    assert "Waiting for application shutdown" in log.read_text()
    assert "Application shutdown complete" in log.read_text()


def deep_event(depth: int) -> Event:
    body: list = []
    for _ in range(depth):
        body = [body]
    return Event("x", 1_714_557_600.0, "info", None, None, {}, body)


@pytest.fixture
def engine(tmp_path) -> sa.Engine:
    eng = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}", writer=True)
    db.upgrade(eng)
    yield eng
    eng.dispose()


def test_a_batch_the_writer_process_cannot_take_clears_its_answer(engine):
    """What validation refuses cannot reach the writer; should it anyway, the batch is refused
    before it waits for an answer, and stopping does not wait for one either."""

    async def scenario() -> tuple[BaseException | None, int, int | None]:
        writer = ProcessWriter(engine, ALL_VIEWS_REF)
        await writer.start()
        refused = None
        try:
            await writer.write([deep_event(300)])
        except InvalidBatch as exc:
            refused = exc
        pending = len(writer._pending)
        ack = await writer.write([Event("x", 1_714_557_600.0, "info", None, None, {}, {})])
        await asyncio.wait_for(writer.stop(), EXIT_WITHIN)
        return refused, pending, ack.first_seq

    refused, pending, seq = asyncio.run(scenario())
    assert isinstance(refused, InvalidBatch)
    assert refused.issues[0].path == "$"
    assert pending == 0
    assert seq == 1  # the refused batch took no seq


def test_stop_ends_within_its_grace_when_the_writer_process_hangs(engine):
    children: list[subprocess.Popen[bytes]] = []

    async def scenario() -> tuple[BaseException | None, int | None]:
        writer = ProcessWriter(engine, ALL_VIEWS_REF)
        await writer.start()
        assert writer._proc is not None
        child = writer._proc
        children.append(child)
        os.kill(child.pid, signal.SIGSTOP)  # alive, holding the socket, answering nothing
        waiting = asyncio.ensure_future(
            writer.write([Event("x", 1_714_557_600.0, "info", None, None, {}, {})])
        )
        await asyncio.sleep(0.2)
        await asyncio.wait_for(writer.stop(grace=1.0), EXIT_WITHIN)
        outcome = None
        try:
            await waiting
        except WriterStopped as exc:
            outcome = exc
        return outcome, child.poll()

    try:
        outcome, returncode = asyncio.run(scenario())
    finally:
        for child in children:  # should the writer not have killed it
            if child.poll() is None:
                child.kill()
                child.wait()
    assert isinstance(outcome, WriterStopped)
    assert returncode == -signal.SIGKILL
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar() == 0


def test_the_thread_writer_refuses_an_unencodable_batch_alone(engine):
    good = [Event("x", 1_714_557_600.0, "info", None, None, {}, {})]

    async def scenario() -> list[object]:
        writer = Writer(engine, ALL_VIEWS)
        await writer.start()
        results = await asyncio.gather(
            writer.write([deep_event(300)]), writer.write(good), return_exceptions=True
        )
        await asyncio.wait_for(writer.stop(), EXIT_WITHIN)
        return results

    refused, stored = asyncio.run(scenario())
    assert isinstance(refused, InvalidBatch)
    assert isinstance(stored, Ack) and stored.first_seq == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar() == 1
