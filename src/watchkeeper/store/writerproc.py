"""The writer in a process of its own, so storing events does not share the server's GIL.

The server's event loop parses HTTP and decodes events; storing them (SQL, view logic, the
commit) costs as much again, and in the same process it competes for the one GIL however it
is threaded. :class:`ProcessWriter` keeps the writers' one contract
(:class:`~watchkeeper.store.writerbase.BaseWriter`) and hands every batch to a child process
(``python -m watchkeeper.store.writerproc``) over a socket pair, so the two run on two cores.

Group commit happens in the child: it blocks for one batch, then takes every batch that has
arrived meanwhile, commits them in one transaction (``writer.commit_batches``: one bad batch
fails alone) and only then answers each. What is acknowledged is committed,
exactly as with the in-process writer.

Frames on the socket are a 4-byte big-endian length and an orjson document:

- server → child: ``{"id": n, "events": [[kind, ts, level, source, subject, attrs, body,
  event_id, received_at], ...]}``;
- child → server: ``{"answers": [[id, [accepted, duplicates, first_seq, last_seq, results] or
  {"error": text}], ...], "commits": n}``, where ``results`` is ``{seq: result}``, what the
  views answered for the batch's events (a Lamia job's progress), handed to the request in its
  :class:`~watchkeeper.store.writerbase.Ack` as the in-process writer hands it.

If the server dies, the child sees the socket close, finishes what it holds and exits; if the
child dies, the batches waiting for it fail with 503 and the next batch starts a new child.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.store import db
from watchkeeper.store.view import View, load_views
from watchkeeper.store.writer import commit_batches, unstorable
from watchkeeper.store.writerbase import STOP_GRACE, Ack, BaseWriter, WriterStopped, settle

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
#: The environment variable that hands the database URL to the child.
_DB_ENV = "WATCHKEEPER_WRITER_DB"
#: Bytes waiting for the writer process beyond which a request waits before adding more.
_BACKLOG_BYTES = 64 * 1024 * 1024


class WriterFailed(RuntimeError):
    """The writer process refused a batch; carries the reason it gave."""


def to_rows(events: Sequence[Event]) -> list[list[Any]]:
    """Events as the frames carry them (:func:`from_rows` makes them again)."""
    return [
        [e.kind, e.ts, e.level, e.source, e.subject, e.attrs, e.body, e.event_id, e.received_at]
        for e in events
    ]


def from_rows(rows: list[list[Any]]) -> list[Event]:
    return [
        Event(kind, ts, level, source, subject, attrs, body, event_id, received_at)
        for kind, ts, level, source, subject, attrs, body, event_id, received_at in rows
    ]


def frame(document: Any) -> bytes:
    payload = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    return _LENGTH.pack(len(payload)) + payload


class ProcessWriter(BaseWriter):
    """A :class:`~watchkeeper.store.writerbase.BaseWriter` that stores in a child process."""

    def __init__(
        self,
        engine: sa.Engine,
        views: str,
        *,
        synchronous: str = "FULL",
        on_commit: Callable[[int], None] | None = None,
        max_group_events: int = 50_000,
    ) -> None:
        super().__init__(on_commit=on_commit)
        #: The database the child writes to (this process does not write through it).
        self.url = engine.url.render_as_string(hide_password=False)
        #: The views, named as ``module:attribute`` (:func:`~watchkeeper.store.view.load_views`):
        #: the child is handed the name and imports them; a wrong name fails here, at once.
        self.views_ref = views
        load_views(views)
        self.synchronous = synchronous
        self.max_group_events = max_group_events
        self._pending: dict[int, asyncio.Future[Ack]] = {}
        self._next_id = 0
        self._stopping = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None
        self._outbox: list[tuple[int, bytes]] = []

    async def start(self) -> None:
        self._starting = asyncio.Lock()
        await self._spawn()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Wait for every batch sent to be answered, then let the child finish and exit.

        Within ``grace`` seconds in all: batches still unanswered then get 503 (they were never
        acknowledged) and a child that has not exited is killed, so shutdown always ends.
        """
        self._stopping = True
        deadline = time.monotonic() + grace
        if self._pending:
            await asyncio.wait(list(self._pending.values()), timeout=grace)
        for future in self._pending.values():
            settle(future, WriterStopped("the server stopped before the writer answered"))
        self._pending.clear()
        if self._stream is not None:
            self._stream.close()
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)
        if self._proc is not None:
            left = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.to_thread(self._proc.wait, left)
            except subprocess.TimeoutExpired:
                log.error("the writer process did not exit within %.0f s; killing it", grace)
                self._proc.kill()
                await asyncio.to_thread(self._proc.wait)

    async def write(self, events: list[Event]) -> Ack:
        if self._stopping:
            raise WriterStopped("the server is shutting down")
        if self._stream is None or self._stream.is_closing():
            assert self._starting is not None
            async with self._starting:
                if self._stream is None or self._stream.is_closing():
                    await self._spawn()
        assert self._stream is not None
        self._next_id += 1
        batch_id = self._next_id
        try:
            data = frame({"id": batch_id, "events": to_rows(events)})
        except orjson.JSONEncodeError as exc:
            # Before the batch is pending: nothing waits for an answer that cannot come.
            raise unstorable(exc) from None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Ack] = loop.create_future()
        self._pending[batch_id] = future
        # Frames of the batches that arrive in one turn of the loop leave in one send.
        if not self._outbox:
            loop.call_soon(self._flush)
        self._outbox.append((batch_id, data))
        if self._stream.transport.get_write_buffer_size() > _BACKLOG_BYTES:
            try:
                await self._stream.drain()  # the child is behind: wait instead of buffering
            except (ConnectionError, RuntimeError) as exc:
                raise WriterStopped("the writer process is gone; retry") from exc
        return await future

    def _flush(self) -> None:
        frames, self._outbox = self._outbox, []
        if self._stream is not None and not self._stream.is_closing():
            self._stream.write(b"".join(data for _, data in frames))
            return
        for batch_id, _ in frames:  # never sent: the child is gone
            future = self._pending.pop(batch_id, None)
            if future is not None:
                settle(future, WriterStopped("the writer process exited; retry"))

    async def _spawn(self) -> None:
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "watchkeeper.store.writerproc",
                    "--fd",
                    str(theirs.fileno()),
                    "--views",
                    self.views_ref,
                    "--synchronous",
                    self.synchronous,
                    "--max-group-events",
                    str(self.max_group_events),
                ],
                pass_fds=[theirs.fileno()],
                # Through the environment, not the command line: a URL may hold a password.
                env={**os.environ, _DB_ENV: self.url},
            )
        finally:
            theirs.close()
        reader, self._stream = await asyncio.open_connection(sock=ours)
        ready = await _read_frame(reader)
        if ready != {"ready": True}:
            raise RuntimeError(f"the writer process did not start: {ready!r}")
        self._reader_task = asyncio.create_task(self._read_answers(reader), name="wk-answers")

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                document = await _read_frame(reader)
                if document is None:
                    break
                self._answer_frame(document)
        finally:
            gone = WriterStopped("the writer process exited; retry")
            for future in self._pending.values():
                settle(future, gone)
            self._pending.clear()
            if self._stream is not None:
                self._stream.close()

    def _answer_frame(self, document: dict[str, Any]) -> None:
        self._answer(
            (
                (
                    self._pending.pop(batch_id, None),
                    WriterFailed(answer["error"]) if isinstance(answer, dict) else ack(answer),
                )
                for batch_id, answer in document["answers"]
            ),
            document["commits"],
        )


def ack(answer: list[Any]) -> Ack:
    """An :class:`Ack` from its frame (JSON keys are strings: ``seq`` is a number again)."""
    accepted, duplicates, first, last, results = answer
    return Ack(accepted, duplicates, first, last, {int(k): v for k, v in results.items()})


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    try:
        head = await reader.readexactly(_LENGTH.size)
        return orjson.loads(await reader.readexactly(_LENGTH.unpack(head)[0]))
    except asyncio.IncompleteReadError:
        return None


# --- the child ------------------------------------------------------------------------------


class _Frames:
    """Length-prefixed frames from a blocking socket, with a way to take what has arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.start = 0  # where the next frame begins in ``buffer``
        self.closed = False

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            self.closed = True
        # Drop what was parsed once per read, not once per frame: a read can hold thousands.
        del self.buffer[: self.start]
        self.start = 0
        self.buffer += chunk

    def _complete(self) -> Any:
        begin = self.start + _LENGTH.size
        if len(self.buffer) < begin:
            return None
        end = begin + _LENGTH.unpack_from(self.buffer, self.start)[0]
        if len(self.buffer) < end:
            return None
        with memoryview(self.buffer) as view:  # released before the buffer is resized
            document = orjson.loads(view[begin:end])
        self.start = end
        return document

    def next(self) -> Any:
        """The next frame, waiting for it; ``None`` once the server has closed the socket."""
        while True:
            document = self._complete()
            if document is not None:
                return document
            if self.closed:
                return None
            self._fill()

    def ready(self) -> Any:
        """The next frame if it has arrived (or is arriving), else ``None`` without waiting."""
        document = self._complete()
        if document is not None:
            return document
        while not self.closed and select.select([self.sock], [], [], 0)[0]:
            self._fill()
            document = self._complete()
            if document is not None:
                return document
        if len(self.buffer) > self.start and not self.closed:
            return self.next()  # a frame is half here: the rest is on its way
        return None


def serve(sock: socket.socket, engine: sa.Engine, views: Sequence[View], max_events: int) -> None:
    frames = _Frames(sock)
    sock.sendall(frame({"ready": True}))
    while True:
        first = frames.next()
        if first is None:
            return
        group = [first]
        size = len(first["events"])
        while size < max_events:
            more = frames.ready()
            if more is None:
                break
            group.append(more)
            size += len(more["events"])
        results, commits = commit_batches(
            engine, views, [from_rows(item["events"]) for item in group]
        )
        answers = [
            [
                item["id"],
                {"error": f"{type(r).__name__}: {r}"}
                if isinstance(r, BaseException)
                else [r.accepted, r.duplicates, r.first_seq, r.last_seq, r.results],
            ]
            for item, r in zip(group, results, strict=True)
        ]
        try:
            sock.sendall(frame({"answers": answers, "commits": commits}))
        except OSError:
            return  # the server is gone; what was committed stays committed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="watchkeeper.store.writerproc")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--views", required=True, help="the views, as module:attribute")
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--max-group-events", type=int, default=50_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="writer: %(levelname)s %(message)s")
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(True)
    engine = db.make_engine(os.environ[_DB_ENV], writer=True, synchronous=args.synchronous)
    try:
        serve(sock, engine, load_views(args.views), args.max_group_events)
    except Exception:
        log.exception("the writer process failed")
        sys.exit(1)
    finally:
        engine.dispose()
        sock.close()


if __name__ == "__main__":
    main()
