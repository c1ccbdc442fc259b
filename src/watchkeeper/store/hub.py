"""Wakes the live feeds when new events are committed.

Feeds read events from the database, never from what the writer had in memory, so what a
stream sends, and what a stream resuming from ``Last-Event-ID`` reads, is exactly what was
committed. The hub only tells them when to look again; a short timeout makes them look anyway,
which is how a replica sees what another one wrote.
"""

from __future__ import annotations

import asyncio


class CommitHub:
    def __init__(self) -> None:
        self.latest = 0
        self._changed = asyncio.Event()

    def committed(self, seq: int) -> None:
        """Called on the event loop after each commit."""
        if seq > self.latest:
            self.latest = seq
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait(self, after: int, timeout: float) -> bool:
        """Wait until something past ``after`` is committed; ``False`` on timeout."""
        if self.latest > after:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        return True
