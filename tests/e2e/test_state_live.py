"""The live state against real server processes: counters under concurrency, the SSE stream
and the logging handler, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support import ServerProcess, free_port
from watchkeeper.events.statedoc import apply_patch
from watchkeeper.logging import StateHandler

PROCESSES = 8
#: Ten batches per process, as many as with 10,000 in batches of 1,000, at half the events:
#: the interleaving of the eight writers is what can lose a count, not the count's size.
INCREMENTS = 5_000
BATCH = 500


def count_worker(url: str, worker: int) -> tuple[int, int]:
    """Send ``INCREMENTS`` increments of one key in NDJSON batches, re-sending every third
    batch and, at the end, a mix of old and new ones. Returns (stored, duplicates)."""
    host = f"blade_host_{worker % 4}"  # two processes per host
    headers = {"Content-Type": "application/x-ndjson", "X-Watchkeeper-Source": host}
    stored = duplicates = 0

    def send(ids: list[int]) -> None:
        nonlocal stored, duplicates
        body = b"\n".join(
            orjson.dumps({"event_id": f"w{worker}-{i}", "fleet": {"items": {"$inc": 1}}})
            for i in ids
        )
        ack = http.post("/api/v1/state", content=body, headers=headers)
        assert ack.status_code == 202, ack.text
        stored += ack.json()["accepted"] - ack.json()["duplicates"]
        duplicates += ack.json()["duplicates"]

    with httpx.Client(base_url=url, timeout=120) as http:
        for number, start in enumerate(range(0, INCREMENTS - BATCH, BATCH)):
            ids = list(range(start, start + BATCH))
            send(ids)
            if number % 3 == 0:
                send(ids)  # the answer was "lost": the whole batch again
        last = INCREMENTS - BATCH
        send(list(range(last - BATCH // 2, INCREMENTS)))  # half old, half new
    return stored, duplicates


@pytest.fixture
def server(db_url: str, tmp_path) -> Iterator[ServerProcess]:
    with ServerProcess(db_url, log_path=str(tmp_path / "server.log")) as proc:
        yield proc


@pytest.mark.slow
def test_concurrent_increments_never_lose_a_count(server):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.starmap(count_worker, [(server.url, w) for w in range(PROCESSES)])
    assert sum(stored for stored, _ in results) == PROCESSES * INCREMENTS
    assert all(duplicates > 0 for _, duplicates in results)
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/api/v1/state").json() == {"fleet": {"items": PROCESSES * INCREMENTS}}
        (counter,) = http.get("/api/v1/state/counters").json()["counters"]
    assert counter["total"] == PROCESSES * INCREMENTS
    per_host = 2 * INCREMENTS
    assert counter["sources"] == {
        f"blade_host_{h}": {"p": per_host, "n": 0, "value": per_host} for h in range(4)
    }


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    kind, data = None, None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = orjson.loads(line[6:])
        elif line == "" and kind is not None:
            yield kind, data
            kind, data = None, None


def test_stream_sends_a_snapshot_then_merge_patches(server):
    src = {"X-Watchkeeper-Source": "blade_host_A"}
    with httpx.Client(base_url=server.url, timeout=15) as http:
        http.post("/api/v1/state", json={"a": 1, "b": {"c": 2}}, headers=src)
        with http.stream("GET", "/api/v1/state/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            kind, snapshot = next(events)
            assert kind == "snapshot"
            assert snapshot == {"seq": 1, "state": {"a": 1, "b": {"c": 2}}}
            document = snapshot["state"]

            http.post("/api/v1/state", json={"a": None, "b": {"d": {"$inc": 5}}}, headers=src)
            kind, patch = next(events)
            assert (kind, patch) == ("patch", {"a": None, "b": {"d": 5}})
            document = apply_patch(document, patch)

            ts = time.time() - 9.0
            http.post("/api/v1/state", json={"ts": ts, "k": {"$ttl": 10, "value": {
                "n": {"$inc": 2}}}}, headers=src)  # fmt: skip
            kind, patch = next(events)
            assert patch == {"k": {"n": 2}}
            document = apply_patch(document, patch)
            kind, patch = next(events)  # about a second later, it expires
            assert patch == {"k": None, "_expired_totals": {"*": {"n": 2}}}
            document = apply_patch(document, patch)
            assert document == http.get("/api/v1/state").json()


def test_stream_of_a_subtree(server):
    src = {"X-Watchkeeper-Source": "o"}
    with httpx.Client(base_url=server.url, timeout=15) as http:
        with http.stream("GET", "/api/v1/state/stream", params={"path": "intents"}) as response:
            events = sse_events(response)
            assert next(events) == ("snapshot", {"seq": 0, "state": None})
            http.post("/api/v1/state", json={"intents": {"i1": {"host": "h"}}}, headers=src)
            assert next(events) == ("patch", {"i1": {"host": "h"}})
            http.post("/api/v1/state", json={"other": 1}, headers=src)
            http.post("/api/v1/state", json={"intents": {"i1": None}}, headers=src)
            assert next(events) == ("patch", {"i1": None})
        bad = http.get("/api/v1/state/stream", params={"path": "/a~2"})
        assert bad.status_code == 422


def test_logging_handler_ships_state_shards(server):
    log = logging.getLogger("test.state.ship")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = StateHandler(server.url, source="blade_host_A", flush_interval=0.1, batch_size=200)
    log.addHandler(handler)
    try:
        log.info("Hello World", extra={"state": {"blade_host_A": {"msg": "Hello World"}}})
        for i in range(1000):
            log.info("scraped", extra={"state": {"blade_host_A": {"items": {"$inc": 1},
                                                                  "last": i}}})  # fmt: skip
        log.info("not a shard")
        log.error("bad", extra={"state": {"blade_host_A": {"$oops": 1}}})
        log.error("failed", extra={"state": {"blade_host_A": {"error": "timeout"}}})
        handler.flush()
    finally:
        log.removeHandler(handler)
        handler.close()
    assert (handler.sent, handler.rejected, handler.dropped) == (1002, 1, 0)
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/api/v1/state").json() == {
            "blade_host_A": {"msg": "Hello World", "items": 1000, "last": 999, "error": "timeout"}
        }
        (entry,) = http.get("/api/v1/state/errors").json()["errors"]
        assert (entry["source"], entry["path"], entry["level"]) == (
            "blade_host_A", "blade_host_A", "error")  # fmt: skip


def test_logging_handler_buffers_while_the_server_is_away(db_url, tmp_path):
    port = free_port()
    handler = StateHandler(f"http://127.0.0.1:{port}", source="blade_host_B", max_buffer=100,
                           flush_interval=0.05, max_backoff=0.2, flush_timeout=0.5)  # fmt: skip
    log = logging.getLogger("test.state.away")
    log.propagate = False
    log.addHandler(handler)
    try:
        for _ in range(500):
            log.warning("tick", extra={"state": {"blade_host_B": {"ticks": {"$inc": 1}}}})
        handler.flush()  # returns after flush_timeout: nothing can be sent
        assert (handler.sent, handler.pending, handler.dropped) == (0, 100, 400)
        with ServerProcess(db_url, port=port, log_path=str(tmp_path / "server.log")):
            deadline = time.monotonic() + 30
            while handler.sent < 100 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (handler.sent, handler.pending) == (100, 0)
            state = httpx.get(f"http://127.0.0.1:{port}/api/v1/state").json()
            assert state == {"blade_host_B": {"ticks": 100}}
    finally:
        log.removeHandler(handler)
        handler.close()


def test_serve_takes_roles_and_totals_key_from_the_command_line(sqlite_url, tmp_path):
    args = ["--state-role", "scraper=blade-s", "--state-role", "spotter=blade-p",
            "--state-expired-path", "gone"]  # fmt: skip
    log = str(tmp_path / "server.log")
    with (
        ServerProcess(sqlite_url, args=args, log_path=log) as proc,
        httpx.Client(base_url=proc.url) as http,
    ):
        src = {"X-Watchkeeper-Source": "o"}
        body = {"intents": {"i": {"resolution": {"blade-s1": {}, "blade-p2": {}}}},
                "ts": time.time() - 60, "k": {"$ttl": 1, "value": {"$inc": 1}}}  # fmt: skip
        assert http.post("/api/v1/state", json=body, headers=src).status_code == 202
        assert http.get("/api/v1/state/intents/i").json()["status"] == "receiving"
        assert http.get("/api/v1/state", params={"path": "gone"}).json() == {"*": 1}
        refused = http.post("/api/v1/state", json={"gone": 1}, headers=src)
        assert refused.status_code == 422
