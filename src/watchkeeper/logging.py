"""Ship state shards from any Python program with the standard :mod:`logging` module.

::

    import logging
    from watchkeeper.logging import StateHandler

    log = logging.getLogger("blade")
    log.addHandler(StateHandler("http://monitor:7070", source="blade_host_A"))
    log.warning("hello", extra={"state": {"blade_host_A": {"msg": "Hello World"}}})

Records carrying ``extra={"state": {...}}`` are sent as shards (records without it are ignored).
Sending happens on a background thread in NDJSON batches, so logging never waits for the
network. If the server is away, shards wait in a bounded buffer and are retried with the
back-off of :mod:`watchkeeper.retry` (full jitter, ``Retry-After`` honoured, at most
``max_backoff``); once the buffer is full, new shards are dropped and counted in
:attr:`StateHandler.dropped`.
Each shard carries an ``event_id``, so a batch re-sent after a lost answer is not counted twice.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from watchkeeper.retry import RETRY_STATUS, Backoff


class StateHandler(logging.Handler):
    """A :class:`logging.Handler` that ships ``extra={"state": ...}`` shards to watchkeeper.

    ``source`` names this program's host (it becomes the shards' source, which counters and
    intents are kept by). ``ttl`` gives every shard's top-level keys a time to live. At most
    ``max_buffer`` shards wait for the server; ``batch_size`` go in one request, at least every
    ``flush_interval`` seconds. :meth:`flush` and :meth:`close` wait at most ``flush_timeout``.
    After the ``n``-th failed attempt in a row it waits a random time in
    ``[0, min(max_backoff, backoff * 2**n)]``, and at least what ``Retry-After`` asks (capped at
    ``max_backoff``); ``rand`` (a float in ``[0, 1)``) is the randomness it uses.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:7070",
        *,
        source: str,
        token: str | None = None,
        level: int = logging.NOTSET,
        ttl: float | None = None,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_buffer: int = 10_000,
        timeout: float = 5.0,
        flush_timeout: float = 5.0,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(level)
        if not source:
            raise ValueError("source is required: it names the host the shards come from")
        self.endpoint = url.rstrip("/") + "/api/v1/state"
        self.source = source
        self.ttl = ttl
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.flush_timeout = flush_timeout
        self.backoff = Backoff(backoff, max_backoff, rand)
        #: Failed attempts in a row, and the wait chosen after the last one (0 once through).
        self.failures = 0
        self.retry_delay = 0.0
        #: Shards dropped because the buffer was full (or could not be encoded).
        self.dropped = 0
        #: Shards the server acknowledged.
        self.sent = 0
        #: Shards the server refused as invalid (they cannot succeed by retrying).
        self.rejected = 0
        self._buffer: deque[bytes] = deque()
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closing = threading.Event()
        headers = {"Content-Type": "application/x-ndjson"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(timeout=timeout, headers=headers)
        self._thread = threading.Thread(
            target=self._run, name="watchkeeper-state-handler", daemon=True
        )
        self._thread.start()

    @property
    def pending(self) -> int:
        """Shards waiting to be sent."""
        return len(self._buffer)

    # --- the program's side: never blocks, never raises ------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        shard = getattr(record, "state", None)
        if not isinstance(shard, Mapping):
            return
        try:
            item: dict[str, Any] = {
                "source": self.source,
                "event_id": uuid.uuid4().hex,
                "ts": record.created,
                "level": record.levelno,
                "logger": record.name,
                "msg": record.getMessage(),
                "_details": shard,
            }
            if self.ttl is not None:
                item["ttl"] = self.ttl
            line = orjson.dumps(item, default=str, option=orjson.OPT_NON_STR_KEYS)
        except Exception:
            with self._mutex:
                self.dropped += 1
            return
        with self._mutex:
            if len(self._buffer) >= self.max_buffer:
                self.dropped += 1
                return
            self._buffer.append(line)
            self._idle.clear()
            full = len(self._buffer) >= self.batch_size
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Ask for the buffer to be sent and wait (at most ``flush_timeout``) until it is."""
        self._wake.set()
        self._idle.wait(self.flush_timeout)

    def close(self) -> None:
        """Send what is buffered (waiting at most ``flush_timeout``), then stop."""
        if not self._closing.is_set():
            self._closing.set()
            self._wake.set()
            self._thread.join(self.flush_timeout + 1.0)
            self._http.close()
        super().close()

    # --- the background thread -------------------------------------------------------------

    def _run(self) -> None:
        deadline: float | None = None
        while True:
            timeout = self.retry_delay if self.failures else self.flush_interval
            if deadline is not None:
                # Closing: one last try before the deadline rather than a wait beyond it.
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            self._wake.wait(timeout)
            self._wake.clear()
            if self._closing.is_set() and deadline is None:
                deadline = time.monotonic() + self.flush_timeout
            self._drain()
            if deadline is not None and (not self._buffer or time.monotonic() >= deadline):
                return

    def _drain(self) -> None:
        """Send batches until the buffer is empty, or choose the wait if the server is away."""
        while True:
            with self._mutex:
                batch = list(itertools.islice(self._buffer, self.batch_size))
                if not batch:
                    self._idle.set()
                    self.failures, self.retry_delay = 0, 0.0
                    return
            done, refused, response = self._send(batch)
            if not done:
                self.retry_delay = self.backoff.after(self.failures, response)
                self.failures += 1
                return
            self.failures, self.retry_delay = 0, 0.0
            with self._mutex:
                for _ in batch:
                    self._buffer.popleft()
                self.sent += len(batch) - refused
                self.rejected += refused

    def _send(self, batch: list[bytes]) -> tuple[bool, int, httpx.Response | None]:
        """Post ``batch``: ``(finished with it, how many were refused, the last answer)``.

        An invalid batch names its bad items by index; those are dropped and the rest is sent
        again, so one bad shard cannot take good ones down with it.
        """
        try:
            response = self._http.post(self.endpoint, content=b"\n".join(batch) + b"\n")
        except httpx.HTTPError:
            return False, 0, None
        if response.status_code < 300:
            return True, 0, response
        if response.status_code in RETRY_STATUS:
            return False, 0, response
        bad = _bad_indexes(response)
        if response.status_code != 422 or not bad:
            return True, len(batch), response
        kept = [line for i, line in enumerate(batch) if i not in bad]
        if not kept:
            return True, len(batch), response
        done, more, last = self._send(kept)
        return (True, len(batch) - len(kept) + more, last) if done else (False, 0, last)


def _bad_indexes(response: httpx.Response) -> set[int]:
    try:
        details = response.json()["error"]["details"]
        return {d["index"] for d in details if isinstance(d.get("index"), int)}
    except (ValueError, KeyError, TypeError):
        return set()
