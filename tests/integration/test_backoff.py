"""The client and the logging handler back off alike: full jitter, Retry-After honoured, capped.

A real HTTP server on a real socket plays an overloaded watchkeeper (scripted 429/503 answers
with ``Retry-After``); the randomness and the waits are injected, so nothing is timed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support import free_port
from watchkeeper.client import AsyncClient, Client
from watchkeeper.logging import StateHandler
from watchkeeper.retry import Backoff

ACK = b'{"accepted": 1, "duplicates": 0, "first_seq": 1, "last_seq": 1}'


class Busy(ThreadingHTTPServer):
    """Answers POSTs from ``script`` in order (then 202), keeping every body it received."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Busy

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.bodies.append(body)
            status, headers = self.server.script.pop(0) if self.server.script else (202, {})
        payload = ACK if status == 202 else b'{"error": {"code": "busy", "message": "busy"}}'
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy(request: pytest.FixtureRequest) -> Iterator[Busy]:
    server = Busy(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


SCRIPT = [
    (503, {"Retry-After": "4"}),  # more than the cap: capped
    (429, {"Retry-After": "1"}),  # a floor, with the jitter on top
    (503, {}),  # plain full jitter
]


@pytest.mark.parametrize("busy", [SCRIPT], indirect=True)
def test_client_honours_retry_after_and_caps_it(busy):
    sleeps: list[float] = []
    event = {"kind": "x", "event_id": "e1"}
    with Client(
        busy.url, backoff=0.2, max_backoff=3.0, rand=lambda: 0.5, sleep=sleeps.append
    ) as wk:
        assert wk.send(event) == [{"accepted": 1, "duplicates": 0, "first_seq": 1, "last_seq": 1}]
    assert sleeps == pytest.approx([3.0, 1.0 + 0.5 * 0.4, 0.5 * 0.8])
    assert len(busy.bodies) == 4 and len(set(busy.bodies)) == 1


@pytest.mark.parametrize("busy", [SCRIPT], indirect=True)
def test_async_client_backs_off_the_same_way(busy):
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> list[dict]:
        async with AsyncClient(
            busy.url, backoff=0.2, max_backoff=3.0, rand=lambda: 0.5, sleep=record
        ) as wk:
            return await wk.send({"kind": "x"})

    result: list = []
    # Its own thread and loop: a browser test's session may hold this thread's loop.
    runner = threading.Thread(target=lambda: result.append(asyncio.run(main())))
    runner.start()
    runner.join(30)
    assert result and result[0][0]["accepted"] == 1
    assert sleeps == pytest.approx([3.0, 1.2, 0.4])


def test_client_draws_every_wait_when_the_server_is_down():
    sleeps: list[float] = []
    draws = iter([0.9, 0.1, 0.6])
    with (
        Client(
            f"http://127.0.0.1:{free_port()}",
            retries=3,
            backoff=1.0,
            max_backoff=3.0,
            rand=lambda: next(draws),
            sleep=sleeps.append,
        ) as wk,
        pytest.raises(Exception, match="(?i)connect"),
    ):
        wk.send({"kind": "x"})
    assert sleeps == pytest.approx([0.9 * 1.0, 0.1 * 2.0, 0.6 * 3.0])


def test_client_does_not_retry_a_refusal():
    busy = Busy([(422, {"Retry-After": "1"})])
    thread = threading.Thread(target=busy.serve_forever, daemon=True)
    thread.start()
    sleeps: list[float] = []
    try:
        with Client(busy.url, sleep=sleeps.append) as wk, pytest.raises(Exception, match="422"):
            wk.send({"kind": "x"})
    finally:
        busy.shutdown()
        busy.server_close()
    assert sleeps == [] and len(busy.bodies) == 1


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


@dataclass(frozen=True)
class Recording(Backoff):
    """The policy itself, keeping the delays it chose."""

    chosen: list[float] = field(default_factory=list)

    def after(self, attempt: int, response: httpx.Response | None) -> float:
        self.chosen.append(super().after(attempt, response))
        return self.chosen[-1]


@pytest.mark.parametrize(
    "busy",
    [[(503, {"Retry-After": "0"}), (429, {"Retry-After": "3600"}), (503, {})]],
    indirect=True,
)
def test_state_handler_uses_the_same_policy(busy):
    handler = StateHandler(busy.url, source="h", flush_interval=0.01, flush_timeout=5.0)
    policy = handler.backoff = Recording(base=0.05, cap=0.2, random=lambda: 0.5)
    log = logging.getLogger("test.backoff.handler")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("x", extra={"state": {"h": {"n": {"$inc": 1}}}})
        handler.flush()
        _wait_for(lambda: handler.sent == 1)
    finally:
        log.removeHandler(handler)
        handler.close()
    # Retry-After 0 plus jitter; 3600 s capped at max_backoff; then plain full jitter.
    assert policy.chosen == pytest.approx([0.5 * 0.05, 0.2, 0.5 * 0.2])
    assert len(busy.bodies) == 4 and len(set(busy.bodies)) == 1
    assert (handler.failures, handler.retry_delay) == (0, 0.0)
