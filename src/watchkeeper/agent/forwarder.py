"""Forwarding: the journal's outbox to the server's ingest API, exactly once.

Events leave in order, in batches (``batch_size`` events or ``flush_interval`` seconds, and
at most ``batch_bytes``), each with the id ``<agent>:<incarnation>:<outbox id>``. A batch is
forgotten only once the server has acknowledged it (stored and committed); until then it is
sent again, and the server's idempotent ingest drops what it already has. So a server away
for an hour, or an agent killed in the middle of a send, loses nothing and doubles nothing.

A batch the server refuses for its content (422) would block every later event forever: the
refused events are logged and dropped, the rest of the batch is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from watchkeeper.agent.journal import INLINE, Journal
from watchkeeper.agent.transport import UNREACHABLE, Answer, Session, describe
from watchkeeper.agent.waiting import wait_event
from watchkeeper.retry import Backoff

log = logging.getLogger("watchkeeper.agent")

_INDEX = re.compile(r"^\[(\d+)\]")
_T = TypeVar("_T")
_RETRY = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The least time between two batches: a quiet agent's events leave at once, a busy one's
#: coalesce into at most 7 batches a second (each costs the server a request and a commit).
MIN_GAP = 0.15


class Forwarder:
    def __init__(
        self,
        journal: Journal,
        *,
        server: str,
        token: str | None,
        agent_id: str,
        batch_size: int = 1000,
        batch_bytes: int = 4 << 20,
        flush_interval: float = 2.0,
        retry_delay: float = 0.5,
        retry_delay_max: float = 30.0,
    ) -> None:
        self.journal = journal
        self.prefix = f"{agent_id}:{journal.incarnation}:".encode()
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.flush_interval = flush_interval
        # Full jitter, so a fleet of agents does not come back to a restarted server in step.
        self.backoff = Backoff(base=retry_delay, cap=retry_delay_max)
        #: The batch after an acknowledged one, read along with the acknowledgement.
        self._next: list[tuple[int, bytes]] | None = None
        self._refusal: Answer | None = None  # the last answer worth retrying
        self._http = Session(server, token, timeout=30)
        #: Whether the last batch was small (``INLINE``): then the journal is read
        #: and acknowledged on the loop; a backlog (the first read) is read in a thread.
        self._small = False
        self.wake = asyncio.Event()
        self.sent = 0
        self.connected: bool | None = None

    async def run(self) -> None:
        """Send whatever is pending, then wait for more (or the flush interval)."""
        loop = asyncio.get_running_loop()
        while True:
            await self.send_pending()
            sent = loop.time()
            await wait_event(self.wake, self.flush_interval)
            self.wake.clear()
            if (gap := sent + MIN_GAP - loop.time()) > 0:
                await asyncio.sleep(gap)

    async def send_pending(self) -> None:
        attempt = 0
        rows: list[tuple[int, bytes]] | None = None
        while True:
            if rows is None:
                rows = await self._in_journal(
                    self.journal.pending, self.batch_size, self.batch_bytes
                )
            if not rows:
                return
            self._small = len(rows) <= INLINE
            self._refusal = None
            self._next = None
            if await self._send(rows):
                attempt = 0
                rows = self._next
                continue
            await asyncio.sleep(self.backoff.after(attempt, self._refusal))
            attempt += 1
            rows = None

    async def _send(self, rows: list[tuple[int, bytes]]) -> bool:
        """Post one batch; True when it is settled (stored, or refused for good)."""
        body = b"[" + b",".join(self._with_id(i, b) for i, b in rows) + b"]"
        try:
            response = await self._http.post("/api/v1/events", body)
        except UNREACHABLE as exc:
            self._offline(f"cannot reach the server: {describe(exc)}")
            return False
        status = response.status
        if status == 202:
            if self.connected is not True:
                log.info("forwarding to %s", self._http.base_url)
            self.connected = True
            try:
                # The next batch is read in the same trip to the journal's thread.
                self._next = await self._in_journal(
                    self.journal.ack, rows[-1][0], self.batch_size, self.batch_bytes
                )
            except (sqlite3.Error, OSError) as exc:
                # A full disk: the batch is sent again later and the server drops the copies.
                log.warning("cannot forget acknowledged events yet: %s", exc)
                return False
            self.sent += len(rows)
            return True
        if status in _RETRY or status in (401, 403):
            self._refusal = response
            self._offline(f"server answered {status}: {response.text[:300]}")
            return False
        if status == 413 and len(rows) > 1:
            self.batch_bytes = max(1024, self.batch_bytes // 2)
            self.batch_size = max(1, min(self.batch_size, len(rows)) // 2)
            log.warning("batch too large: now at most %d events", self.batch_size)
            return False
        refused = self._refused(response, rows)
        log.error(
            "server refused %d event(s) (%s): %s",
            len(refused),
            status,
            response.text[:1000],
        )
        await asyncio.to_thread(self.journal.drop, refused)
        return True

    async def _in_journal(self, call: Callable[..., _T], *args: Any) -> _T:
        if self._small:
            return call(*args)
        return await asyncio.to_thread(call, *args)

    def _refused(self, response: Answer, rows: list[tuple[int, bytes]]) -> list[int]:
        """The outbox ids the refusal names; all of the batch if it names none."""
        try:
            details = response.json()["error"]["details"]
            indexes = {int(m.group(1)) for d in details if (m := _INDEX.match(d["path"]))}
        except (ValueError, KeyError, TypeError):
            indexes = set()
        if not indexes or max(indexes) >= len(rows):
            return [row_id for row_id, _ in rows]
        return [rows[i][0] for i in sorted(indexes)]

    def _with_id(self, row_id: int, body: bytes) -> bytes:
        return b'{"event_id":"' + self.prefix + str(row_id).encode() + b'",' + body[1:]

    def _offline(self, reason: str) -> None:
        if self.connected is not False:
            log.warning("%s; events wait in the local journal", reason)
        self.connected = False

    async def aclose(self) -> None:
        await self._http.aclose()
