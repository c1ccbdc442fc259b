"""What every writer is to the server: :class:`BaseWriter`, the one contract of the in-process
writer (:class:`~watchkeeper.store.writer.Writer`) and the writer process
(:class:`~watchkeeper.store.writerproc.ProcessWriter`), with the acknowledgement a request
waits for and the counters the metrics read."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.events import Event

#: Seconds a stopping writer waits for the batches it holds; those it cannot finish by then
#: are answered 503 (never acknowledged), so shutdown always ends.
STOP_GRACE = 10.0


@dataclass(slots=True, frozen=True)
class Ack:
    """What a request is told once its batch is durably committed; ``results`` holds what the
    views answered for the batch's events, by ``seq`` (:data:`watchkeeper.store.view.Results`).
    """

    accepted: int
    duplicates: int
    first_seq: int | None
    last_seq: int | None
    results: Mapping[int, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int | None]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
        }


class WriterStopped(RuntimeError):
    """The writer is shutting down and takes no more batches (answered with 503)."""


def settle(future: asyncio.Future[Ack], result: Ack | BaseException) -> None:
    """Answer a waiting request with its batch's outcome (unless it gave up waiting)."""
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class BaseWriter(ABC):
    """Stores batches of events: ``write`` returns once its batch is committed (or raises why
    it was not), concurrent batches share commits, and ``on_commit`` hears the highest ``seq``
    of every commit, after the requests it answers."""

    def __init__(self, *, on_commit: Callable[[int], None] | None = None) -> None:
        self.on_commit = on_commit
        #: Events stored (duplicates not counted) and transactions committed, for /metrics.
        self.committed_events = 0
        self.commits = 0

    @abstractmethod
    async def start(self) -> None:
        """Be ready to take batches."""

    @abstractmethod
    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Commit what was handed over, within ``grace`` seconds; answer the rest 503."""

    @abstractmethod
    async def write(self, events: list[Event]) -> Ack:
        """Store ``events`` as one batch, all or nothing; raises :class:`WriterStopped` when
        the writer cannot take it."""

    def _answer(
        self,
        answered: Iterable[tuple[asyncio.Future[Ack] | None, Ack | BaseException]],
        commits: int,
    ) -> None:
        """Count what a group committed, answer its requests, then tell ``on_commit``."""
        self.commits += commits
        last = 0
        for future, result in answered:
            if isinstance(result, Ack):
                self.committed_events += result.accepted - result.duplicates
                last = max(last, result.last_seq or 0)
            if future is not None:
                settle(future, result)
        if last and self.on_commit is not None:
            self.on_commit(last)
