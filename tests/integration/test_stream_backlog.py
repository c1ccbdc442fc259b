"""A live-stream client that stops reading is disconnected, not buffered without bound; the
others keep up, and the dropped one resumes with ``Last-Event-ID`` without losing an event."""

from __future__ import annotations

import re
import socket
import threading

import httpx
import orjson
import pytest

from tests.e2e.test_state_live import sse_events
from tests.integration.test_stream import read_events
from tests.support import ServerProcess
from watchkeeper.events.statedoc import apply_patch

EVENTS = 12_000
PAD = "x" * 1000  # ~12 MB of frames: more than the kernel's socket buffers can swallow


def note(n: int) -> dict:
    return {"kind": "note", "event_id": f"n{n}", "n": n, "text": PAD}


@pytest.fixture
def server(tmp_path):
    args = ["--stream-backlog-bytes", "100000", "--writer", "thread"]
    with ServerProcess(f"sqlite:///{tmp_path / 'slow.db'}", args=args) as srv:
        yield srv


def dechunk(raw: bytes) -> tuple[bytes, bool]:
    """The body of a chunked HTTP/1.1 answer, and whether it was complete."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    body = bytearray()
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return bytes(body), True
        body += rest[:size]
        rest = rest[size + 2 :]
    return bytes(body), False


def open_slow(port: int, path: str) -> socket.socket:
    """A connection that asks for a stream and then reads nothing, with a tiny window."""
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    request = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
    slow.sendall(request % (path.encode(), port))
    return slow


def read_to_end(slow: socket.socket) -> tuple[bytes, bool]:
    slow.settimeout(20)
    raw = bytearray()
    while chunk := slow.recv(1 << 16):
        raw += chunk
    slow.close()
    return dechunk(bytes(raw))


def metric(url: str, name: str) -> int:
    text = httpx.get(f"{url}/metrics").text
    return int(float(re.search(rf"^{name} ([0-9.e+]+)$", text, re.M).group(1)))


def test_a_slow_client_is_dropped_and_resumes_without_loss(server):
    slow = open_slow(server.port, "/api/v1/events/stream?since_seq=0")
    fast: list = []
    reader = threading.Thread(
        target=lambda: fast.extend(read_events(server.url, EVENTS, params={"since_seq": 0}))
    )
    reader.start()
    threading.Event().wait(0.5)  # both connected before the burst
    for start in range(0, EVENTS, 2000):
        body = b"\n".join(orjson.dumps(note(n)) for n in range(start, start + 2000))
        r = httpx.post(
            f"{server.url}/api/v1/events",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
            timeout=60,
        )
        assert r.status_code == 202, r.text
    reader.join(60)
    # The client that read kept up with everything, while the other was not reading at all.
    assert [seq for seq, _ in fast] == list(range(1, EVENTS + 1))
    assert metric(server.url, "watchkeeper_stream_clients_dropped_total") == 1

    # The slow client now reads what reached it: a prefix of the log, then the end of the stream.
    body, complete = read_to_end(slow)
    assert complete  # the server ended the stream rather than holding it open
    frames = [f for f in body.split(b"\n\n") if f.startswith(b"id: ")]
    seqs = [int(f.split(b"\n", 1)[0][4:]) for f in frames]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < EVENTS

    # It reconnects as a browser would and gets exactly the rest.
    rest = read_events(server.url, EVENTS - seqs[-1], headers={"Last-Event-ID": str(seqs[-1])})
    assert [seq for seq, _ in rest] == list(range(seqs[-1] + 1, EVENTS + 1))
    assert [event["body"]["n"] for _, event in rest] == list(range(seqs[-1], EVENTS))


def test_a_slow_state_client_is_dropped_and_a_reconnect_starts_from_a_full_snapshot(server):
    src = {"X-Watchkeeper-Source": "h1"}
    httpx.post(f"{server.url}/api/v1/state", json={"n": 0}, headers=src)
    slow = open_slow(server.port, "/api/v1/state/stream")
    fast: list = []

    def follow() -> None:
        with httpx.stream("GET", f"{server.url}/api/v1/state/stream", timeout=30) as response:
            for kind, data in sse_events(response):
                fast.append((kind, data))
                if kind == "patch" and data.get("n") == 9:
                    return

    reader = threading.Thread(target=follow)
    reader.start()
    threading.Event().wait(0.5)
    for n in range(1, 10):  # ~1 MB patches, each after its commit
        shard = {"n": n, "blob": f"{n}" + "x" * 1_000_000}
        r = httpx.post(f"{server.url}/api/v1/state", json=shard, headers=src, timeout=30)
        assert r.status_code == 202, r.text
        threading.Event().wait(0.3)
    reader.join(30)
    # The reader that kept up rebuilds the document exactly from the snapshot and the patches.
    kind, snapshot = fast[0]
    assert kind == "snapshot" and snapshot["state"] == {"n": 0}
    document = snapshot["state"]
    for kind, patch in fast[1:]:
        assert kind == "patch"
        document = apply_patch(document, patch)
    final = httpx.get(f"{server.url}/api/v1/state").json()
    assert document == final and final["n"] == 9
    assert metric(server.url, "watchkeeper_stream_clients_dropped_total") == 1

    body, complete = read_to_end(slow)
    assert complete and body.count(b"event: patch") < 9
    with httpx.stream("GET", f"{server.url}/api/v1/state/stream", timeout=30) as response:
        assert next(sse_events(response)) == ("snapshot", {"seq": 10, "state": final})


def test_a_stream_follows_what_another_replica_commits(tmp_path):
    """Two servers on one database: a stream on the first sees, in order and exactly once,
    both the events committed long ago by the second and those it commits while streaming."""
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    with ServerProcess(db) as first, ServerProcess(db) as second:
        httpx.post(f"{first.url}/api/v1/events", json=[note(n) for n in range(3)])
        httpx.post(f"{second.url}/api/v1/events", json=[note(n) for n in range(3, 600)])
        got: list = []
        reader = threading.Thread(
            target=lambda: got.extend(read_events(first.url, 610, params={"since_seq": 2}))
        )
        reader.start()
        threading.Event().wait(0.5)
        httpx.post(f"{second.url}/api/v1/events", json=[note(n) for n in range(600, 613)])
        reader.join(20)
    assert [seq for seq, _ in got] == list(range(3, 613))
    assert [event["body"]["n"] for _, event in got] == list(range(2, 612))
