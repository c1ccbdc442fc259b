"""The server's statsd input: a UDP socket (off unless a port is set) and the HTTP route share
one aggregator (:mod:`watchkeeper.statsd`), flushed every ``statsd_flush_interval`` seconds
into ``metric.series`` events, the series storage the agents' stats use.

The UDP receiver is a thread of its own that drains the socket in batches (one wake-up reads
every datagram waiting, up to :data:`BATCH`) and asks the kernel for a large receive buffer
(``SO_RCVBUF``): with the default 208 KiB, a burst overflows the buffer before any reader
could keep up, and the kernel drops datagrams silently. Malformed lines are counted and the
latest kept as samples; nothing a client sends stops the input.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from watchkeeper.events import Event
from watchkeeper.events.decode import translate_item
from watchkeeper.events.metric import METRIC_SERIES
from watchkeeper.events.model import Issue
from watchkeeper.statsd import Statsd

log = logging.getLogger(__name__)

#: Datagrams read per wake-up of the receiver before they are aggregated under the lock.
BATCH = 512
#: Series per event: a flush of many keys is stored as several events.
SERIES_PER_EVENT = 5000

Write = Callable[[list[Event]], Awaitable[Any]]


class StatsdInput:
    def __init__(
        self,
        write: Write,
        *,
        flush_interval: float = 10.0,
        percentiles: tuple[float, ...] = (90.0,),
    ) -> None:
        self.write = write
        self.flush_interval = flush_interval
        self.aggregator = Statsd("", percentiles=percentiles, percentile_stats=("upper", "mean"))
        self.lock = threading.Lock()
        self.packets = 0
        self.flushes = 0
        self.series_flushed = 0
        self.rcvbuf = 0
        self.port: int | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._flusher: asyncio.Task[None] | None = None

    # -- input ----------------------------------------------------------------------------------

    def feed(self, text: str) -> tuple[int, int, list[str]]:
        """Aggregate ``text``: lines taken, lines refused and the reasons of the refused."""
        with self.lock:
            before = self.aggregator.lines
            errors = self.aggregator.feed(text)
            return self.aggregator.lines - before, len(errors), errors

    def listen(self, host: str, port: int, rcvbuf: int) -> int:
        """Bind the UDP socket and start the receiver; the port bound (``port`` 0 picks one)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        self.rcvbuf = _raise_rcvbuf(sock, rcvbuf)
        sock.bind((host, port))
        sock.settimeout(0.2)  # so the receiver notices a stop
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._receive, name="statsd-udp", daemon=True)
        self._thread.start()
        log.info("statsd on udp %s:%d (receive buffer %d bytes)", host, self.port, self.rcvbuf)
        return self.port

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                batch = [sock.recv(65535)]
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setblocking(False)
            try:
                while len(batch) < BATCH:
                    batch.append(sock.recv(65535))
            except BlockingIOError:
                pass
            finally:
                sock.settimeout(0.2)
            text = b"\n".join(batch).decode("utf-8", "replace")
            with self.lock:
                self.packets += len(batch)
                self.aggregator.feed(text)

    # -- flushing -------------------------------------------------------------------------------

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name="statsd-flush")

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:  # a writer that refuses one flush must not end the input
                log.exception("statsd flush failed")

    async def flush(self) -> int:
        """Store what was aggregated since the last flush; the number of series stored."""
        with self.lock:
            series = self.aggregator.flush()
        if not series:
            return 0
        now = time.time()
        events = []
        for start in range(0, len(series), SERIES_PER_EVENT):
            item = {
                "kind": METRIC_SERIES,
                "ts": now,
                "source": "statsd",
                "interval": self.flush_interval,
                "series": [
                    [n, v] if tags is None else [n, v, tags]
                    for n, v, tags in series[start : start + SERIES_PER_EVENT]
                ],
            }
            issues: list[Issue] = []
            event = translate_item(item, "", now, issues)
            if event is None:  # the aggregator bounds names and tags; this is a bug
                log.error("statsd flush refused: %s", issues[:3])
                continue
            events.append(event)
        await self.write(events)
        self.flushes += 1
        self.series_flushed += len(series)
        return len(series)

    async def stop(self) -> None:
        """Stop receiving, then store the last flush."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._sock is not None:
            self._sock.close()
        if self._flusher is not None:
            self._flusher.cancel()
        try:
            await self.flush()
        except Exception:
            log.exception("last statsd flush failed")

    def status(self) -> dict[str, Any]:
        with self.lock:
            agg = self.aggregator
            return {
                "udp_port": self.port,
                "receive_buffer_bytes": self.rcvbuf,
                "packets": self.packets,
                "lines": agg.lines,
                "malformed": agg.malformed,
                "dropped": agg.dropped,
                "malformed_samples": list(agg.samples),
                "flushes": self.flushes,
                "series_flushed": self.series_flushed,
                "flush_interval": self.flush_interval,
            }


def _raise_rcvbuf(sock: socket.socket, wanted: int) -> int:
    """Ask for ``wanted`` bytes of receive buffer: past ``net.core.rmem_max`` where the process
    may (``SO_RCVBUFFORCE``), else as much as the limit allows. The size the kernel granted
    (it doubles what is asked, for its bookkeeping)."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    try:
        if force is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, force, wanted)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    granted: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < wanted:
        log.warning(
            "statsd receive buffer is %d bytes, not %d: raise net.core.rmem_max", granted, wanted
        )
    return granted


def start(settings: Any, write: Write) -> StatsdInput:
    """The server's input as ``settings`` configure it, flushing; listening on UDP if a port
    is set."""
    found = StatsdInput(
        write,
        flush_interval=settings.statsd_flush_interval,
        percentiles=tuple(settings.statsd_percentiles),
    )
    if settings.statsd_port is not None:
        host = settings.statsd_host or settings.host
        found.listen(host, settings.statsd_port, settings.statsd_rcvbuf)
    found.start()
    return found
