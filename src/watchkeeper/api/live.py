"""Fan-out of live stream frames: produced once per change, shared by every client.

A :class:`Feed` runs one producer (reading the database after each commit and encoding what
changed) while anyone listens, and hands each published item — the same ``bytes`` objects — to
every :class:`Subscriber`. Each subscriber's backlog is bounded in bytes: a client that reads
slower than the feed publishes is dropped, its backlog freed at once, and its stream ends; the
client reconnects (a browser's ``EventSource`` does it by itself, with ``Last-Event-ID``) and
resumes from the database. So a slow client costs a bounded amount of memory and never holds
up the others, and the work per commit does not grow with the number of clients.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class Subscriber:
    """One client's backlog of published items, bounded in bytes by its feed."""

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.pending = 0
        #: Set when the backlog overflowed: the stream must end (the client resumes later).
        self.dropped = False
        self._ready = asyncio.Event()

    async def take(self, timeout: float) -> list[Any]:
        """Everything published since the last call; empty after ``timeout`` seconds of
        silence, or once the subscriber is dropped."""
        if not self.items and not self.dropped:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []
        items = list(self.items)
        self.items.clear()
        self.pending = 0
        return items

    def _wake(self) -> None:
        self._ready.set()


class Feed:
    """A producer shared by subscribers; it runs only while somebody listens.

    ``produce(feed)`` loops ``while feed.listening`` and calls :meth:`publish`.
    """

    def __init__(
        self,
        produce: Callable[[Feed], Awaitable[None]],
        backlog_bytes: int,
        *,
        owner: Feeds | None = None,
        name: str = "",
    ) -> None:
        self.produce = produce
        self.backlog_bytes = backlog_bytes
        self.owner = owner
        self.name = name
        self.subscribers: set[Subscriber] = set()
        self.dropped = 0
        #: For a feed of changes to a document (the live state): the document the changes
        #: published so far add up to, which a new subscriber starts from.
        self.snapshot: Any = None
        self._snapshot_set = asyncio.Event()
        self._failed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return bool(self.subscribers)

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        self.subscribers.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return sub

    def set_snapshot(self, value: Any) -> None:
        """Set together with each publish (no ``await`` between), so that a subscriber always
        starts from a snapshot and the changes published after it."""
        self.snapshot = value
        self._snapshot_set.set()
        self._snapshot_set = asyncio.Event()

    async def wait_snapshot(self, fresh: Callable[[Any], bool]) -> Any:
        """The first snapshot for which ``fresh`` holds (``None`` if the producer failed)."""
        while not self._failed:
            if self.snapshot is not None and fresh(self.snapshot):
                return self.snapshot
            await self._snapshot_set.wait()
        return None

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def rejoin(self, sub: Subscriber) -> None:
        """Empty ``sub``'s backlog and keep (or put) it subscribed: for a client that reads
        the same ground from the database anyway, so the backlog held nothing it needs."""
        sub.items.clear()
        sub.pending = 0
        sub.dropped = False
        self.subscribers.add(sub)

    def publish(self, item: Any, size: int) -> None:
        """Hand ``item`` (``size`` bytes when sent) to every subscriber, dropping those whose
        backlog would exceed the limit."""
        for sub in tuple(self.subscribers):
            if sub.pending + size > self.backlog_bytes and sub.items:
                self.subscribers.discard(sub)
                sub.items.clear()
                sub.pending = 0
                sub.dropped = True
                self.dropped += 1
                if self.owner is not None:
                    self.owner.dropped += 1
            else:
                sub.items.append(item)
                sub.pending += size
            sub._wake()

    async def _run(self) -> None:
        try:
            await self.produce(self)
        except Exception:
            # Subscribers end their streams; the next subscriber starts a new producer.
            log.exception("live feed failed")
            for sub in tuple(self.subscribers):
                sub.dropped = True
                sub._wake()
            self.subscribers.clear()
            self._failed = True
            self._snapshot_set.set()
        finally:
            if self.owner is not None and self.owner.by_name.get(self.name) is self:
                del self.owner.by_name[self.name]


class Feeds:
    """The application's feeds by name (one per stream and filter that shares frames), made on
    first use and forgotten when their last subscriber leaves; and what they count together."""

    def __init__(self, backlog_bytes: int) -> None:
        self.backlog_bytes = backlog_bytes
        self.by_name: dict[str, Feed] = {}
        self.dropped = 0

    def get(self, name: str, produce: Callable[[Feed], Awaitable[None]]) -> Feed:
        feed = self.by_name.get(name)
        if feed is None:
            feed = self.by_name[name] = Feed(produce, self.backlog_bytes, owner=self, name=name)
        return feed

    def clients(self) -> int:
        """Live-stream clients connected (``/metrics`` reads it from a worker thread)."""
        # A copy first: the event loop may add or forget a feed meanwhile.
        return sum(len(feed.subscribers) for feed in tuple(self.by_name.values()))


def feeds(state: Any) -> Feeds:
    """The :class:`Feeds` of an application (its ``app.state``), made on first use (on the
    event loop, by a stream)."""
    found = getattr(state, "feeds", None)
    if found is None:
        found = state.feeds = Feeds(state.settings.stream_backlog_bytes)
    return found
