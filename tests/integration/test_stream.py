"""The live event stream (SSE) against a real server: live delivery and exact resumption."""

from __future__ import annotations

import threading

import httpx
import orjson
import pytest

from tests.fleet import HISTORY, task
from tests.support import ServerProcess


def read_events(
    url: str, count: int, headers: dict[str, str] | None = None, params: dict | None = None
) -> list[tuple[int, dict]]:
    """Read ``count`` events from the stream, then hang up."""
    out: list[tuple[int, dict]] = []
    with httpx.stream(
        "GET", f"{url}/api/v1/events/stream", headers=headers or {}, params=params, timeout=20
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seq = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                seq = int(line[4:])
            elif line.startswith("data: "):
                out.append((seq, orjson.loads(line[6:])))
                if len(out) == count:
                    return out
    return out


@pytest.fixture
def server(tmp_path):
    with ServerProcess(f"sqlite:///{tmp_path / 'sse.db'}") as srv:
        yield srv


def test_new_events_arrive_live(server):
    httpx.post(f"{server.url}/api/v1/events", json=HISTORY[:2])  # before: not replayed
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(read_events(server.url, 3)))
    reader.start()
    for i in range(3):
        threading.Event().wait(0.3)
        httpx.post(
            f"{server.url}/api/v1/events", json=task(100 + i, "2024-05-01 10:00:00.000", "created")
        )
    reader.join(20)
    assert [seq for seq, _ in got] == [3, 4, 5]
    assert [e["attrs"]["task"] for _, e in got] == ["100", "101", "102"]


def test_resume_from_last_event_id_misses_nothing_and_repeats_nothing(server):
    httpx.post(f"{server.url}/api/v1/events", json=HISTORY)
    first = read_events(server.url, 5, params={"since_seq": 0})
    assert [s for s, _ in first] == [1, 2, 3, 4, 5]
    rest = read_events(server.url, len(HISTORY) - 5, headers={"Last-Event-ID": "5"})
    assert [s for s, _ in rest] == list(range(6, len(HISTORY) + 1))
    only = read_events(server.url, 1, params={"since_seq": 0, "kind": "incident"})
    assert only[0][1]["kind"] == "incident"


def test_bad_last_event_id_is_422(server):
    r = httpx.get(f"{server.url}/api/v1/events/stream", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["path"] == "header.last-event-id"
