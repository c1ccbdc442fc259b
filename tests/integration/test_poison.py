"""Input that used to be stored and then break every read, or answer 500 at once, is refused
at the edge with 4xx naming the field, and changes nothing; a log that already holds such
events is still readable everywhere."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from tests.fleet import task
from tests.integration.test_stream import read_events
from tests.poison import MS_AS_SECONDS, READS, YEAR_1, store_poison
from tests.support import ServerProcess
from watchkeeper.store import db

BIG = 2**63  # one beyond a 64-bit column
HUGE = "9" * 30
RANGE = "1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with make_client(db_url) as c:
        created = c.post("/api/v0/t1", json={"processes": {"arr": 5, "solo": None}})
        assert created.status_code == 201
        assert c.post("/api/v1/events", json=task(1, "2024-05-01 10:00:00.000", "created"))
        yield c


def log_state(client: TestClient) -> tuple[int, int]:
    """How many events the log holds and its last seq."""
    page = client.get("/api/v1/events", params={"limit": 10_000}).json()
    return len(page["events"]), page["next_since_seq"]


def v1_paths(response: Any) -> list[str]:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] in ("invalid", "malformed")
    return [d["path"] for d in error["details"]]


def lamia_paths(response: Any) -> list[str]:
    body = response.json()
    if isinstance(body["errors"], dict):  # a query parameter, in the original's shape
        assert all(body["errors"].values())
        return list(body["errors"])
    assert body["errors"] and all(set(e) == {"reason", "details"} for e in body["errors"])
    paths = []
    for error in body["errors"]:
        details = error["details"]
        for detail in details if isinstance(details, list) else [details]:
            paths.append(str(detail.get("path") or detail.get("parameter")))
    return paths


def item_of(raw: Any) -> bytes:
    return raw if isinstance(raw, bytes) else orjson.dumps(raw)


POSTS = [
    # times: out of the accepted range, whatever the edge
    ("generic 1e300", "/api/v1/events", {"kind": "x", "ts": 1e300}, 422, "ts"),
    (
        "seed-000 year 1 +14:00",
        "/api/v1/events",
        {"id_task": 7, "datetime": "0001-01-01T00:00:00+14:00", "status": "created"},
        422,
        "datetime",
    ),
    (
        "seed-000 before 1970",
        "/api/v1/events",
        {"id_agent": 3, "datetime": -1, "state": "idle"},
        422,
        "datetime",
    ),
    (
        "batch with one bad time",
        "/api/v1/events",
        [
            task(8, "2024-05-01 10:00:00.000", "created"),
            {"id_task": 9, "datetime": 1e300, "status": "created"},
        ],
        422,
        "[1].datetime",
    ),
    ("state ts", "/api/v1/state", {"source": "s", "k": 1, "ts": 1e300}, 422, "ts"),
    (
        "state record time",
        "/api/v1/state",
        {"host": "h", "time": "2200-01-02T00:00:00Z", "_details": {"k": 1}},
        422,
        "time",
    ),
    (
        "lamia job _meta.time",
        "/api/v0/t1/solo/event",
        {"eventClass": "STARTED", "_meta": {"time": "1e300"}},
        400,
        "_meta.time",
    ),
    (
        "lamia task _meta.time",
        "/api/v0/t2",
        {"processes": {"p": 1}, "_meta": {"time": -5}},
        400,
        "_meta.time",
    ),
    # integers beyond 64 bits
    (
        "generic subtask",
        "/api/v1/events",
        {"kind": "incident", "agent": 1, "subtask": BIG},
        422,
        "subtask",
    ),
    (
        "seed-000 current_subtask",
        "/api/v1/events",
        {"id_agent": 1, "last_state": "x", "task": {"current_subtask": BIG}},
        422,
        "task.current_subtask",
    ),
    (
        "seed-000 pings",
        "/api/v1/events",
        {"id_agent": 1, "last_state": "x", "pings": {"idle": BIG}},
        422,
        "pings.idle",
    ),
    # NUL, which PostgreSQL text cannot hold
    (
        "task id NUL",
        "/api/v1/events",
        {"id_task": "a\x00b", "status": "created"},
        422,
        "id_task",
    ),
    ("source NUL", "/api/v1/events", {"kind": "x", "source": "\x00"}, 422, "source"),
    ("event_id NUL", "/api/v1/events", {"kind": "x", "event_id": "e\x00"}, 422, "event_id"),
    ("state key NUL", "/api/v1/state", {"source": "s", "a\x00b": 1}, 422, "a\x00b"),
    (
        "lamia tag NUL",
        "/api/v0/t3",
        {"processes": {"p": 1}, "tags": ["ok", "b\x00d"]},
        400,
        "tags[1]",
    ),
    (
        "lamia eventClass NUL",
        "/api/v0/t1/solo/event",
        {"eventClass": "DO\x00NE"},
        400,
        "eventClass",
    ),
    # nesting the writer's encoder cannot take (255 to 1,024 levels), lists included
    (
        "events list 300 deep",
        "/api/v1/events",
        b'{"kind": "x", "a": ' + nested(300) + b"}",
        422,
        "a[0]",
    ),
    (
        "events 1024 deep",
        "/api/v1/events",
        b'{"kind": "x", "a": ' + nested(1022) + b"}",
        422,
        "a[0]",
    ),
    (
        "state list 300 deep",
        "/api/v1/state",
        b'{"source": "s", "k": ' + nested(300) + b"}",
        422,
        "k[0]",
    ),
    (
        "lamia payload 300 deep",
        "/api/v0/t1/solo/event",
        b'{"eventClass": "BEAT", "payload": ' + nested(300) + b"}",
        400,
        "payload[0]",
    ),
]


@pytest.mark.parametrize(
    ("url", "body", "status", "path"), [p[1:] for p in POSTS], ids=[p[0] for p in POSTS]
)
def test_refused_input_names_the_field_and_stores_nothing(client, url, body, status, path):
    before = log_state(client)
    response = client.post(url, content=item_of(body), headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    if url.startswith("/api/v0"):
        paths = lamia_paths(response)
        assert response.json()["created"] is False
    else:
        paths = v1_paths(response)
    assert any(p.startswith(path) for p in paths), paths
    assert log_state(client) == before


def test_a_deep_line_of_ndjson_is_refused_with_its_line(client):
    before = log_state(client)
    body = b'{"kind": "x"}\n{"kind": "x", "a": ' + nested(400) + b"}\n"
    response = client.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 422
    (path,) = v1_paths(response)
    assert path.startswith("[1].a[0][0]")
    assert "nested deeper than 128 levels" in response.json()["error"]["details"][0]["reason"]
    assert log_state(client) == before


def test_the_refusal_of_a_time_gives_the_value_and_the_range(client):
    response = client.post("/api/v1/events", json={"kind": "x", "ts": 1e300})
    (detail,) = response.json()["error"]["details"]
    assert "1e+300" in detail["reason"] and RANGE in detail["reason"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (1714557600000, "2024-05-01T10:00:00.000Z"),  # milliseconds
        (1714557600000000, "2024-05-01T10:00:00.000Z"),  # microseconds
        (1714557600000000000, "2024-05-01T10:00:00.000Z"),  # nanoseconds
        (1714557600.5, "2024-05-01T10:00:00.500Z"),  # seconds
    ],
)
def test_epoch_numbers_in_every_unit_are_read_by_magnitude(client, sent, stored):
    response = client.post("/api/v1/events", json={"id_task": "u", "datetime": sent, "status": "s"})
    assert response.status_code == 202
    assert client.get("/api/v1/tasks/u").json()["updated_at"] == stored
    lamia_time = client.post(
        "/api/v0/t1/solo/event", json={"eventClass": "BEAT", "_meta": {"time": str(sent)}}
    )
    assert lamia_time.status_code == 201
    (entry,) = client.get("/api/v0/t1/solo/event").json()["entries"][-1:]
    # Lamia's answers write times as the original did: naive UTC, microseconds.
    assert entry["sentAt"] == stored.replace("Z", "000")


GETS = [
    ("/api/v1/events", {"since_seq": str(BIG)}, {}, 422, "query.since_seq"),
    ("/api/v1/events/stream", {"since_seq": HUGE}, {}, 422, "query.since_seq"),
    ("/api/v1/events/stream", {}, {"Last-Event-ID": HUGE}, 422, "header.last-event-id"),
    ("/api/v1/charts/waterfall", {"offset": str(BIG)}, {}, 422, "query.offset"),
    ("/api/v1/charts/processed-per-agent", {"offset": HUGE}, {}, 422, "query.offset"),
    ("/api/v1/charts/component-status", {"offset": HUGE}, {}, 422, "query.offset"),
    ("/api/v1/charts/aborted", {"interval": "5e-324"}, {}, 422, "query.interval"),
    ("/api/v1/charts/aborted", {"interval": "inf"}, {}, 422, "query.interval"),
    ("/api/v1/charts/aborted", {"interval": "nan"}, {}, 422, "query.interval"),
    ("/api/v1/charts/waterfall", {"since": "1e300"}, {}, 422, "query.since"),
    ("/api/v1/tasks", {"until": "-99999999999w"}, {}, 422, "query.until"),
    ("/api/v1/incidents", {"before_id": str(BIG)}, {}, 422, "query.before_id"),
    (f"/api/v1/incidents/{BIG}", {}, {}, 422, "path.incident_id"),
    ("/api/v1/incidents/%C2%B2", {}, {}, 422, "path.incident_id"),
    ("/api/v1/groups", {"offset": HUGE}, {}, 422, "query.offset"),
    ("/api/v1/tasks", {"q": "a\x00b"}, {}, 400, "query.q"),
    ("/api/v1/tasks/a%00b", {}, {}, 400, "path.task_id"),
    ("/api/v1/agents/a%00b", {}, {}, 400, "path.agent_id"),
    ("/api/v1/events", {"kind": "\x00"}, {}, 400, "query.kind"),
    ("/api/v1/events", [("kind", "ok"), ("kind", "\x00")], {}, 400, "query.kind"),
    ("/api/v1/events/stream", {"kind": "\x00"}, {}, 400, "query.kind"),
    ("/api/v1/state", {"path": "a\x00b"}, {}, 400, "query.path"),
    ("/api/v1/state/stream", {"path": "a\x00b"}, {}, 400, "query.path"),
    # Lamia answers in its own envelope
    ("/api/v0", {"limit": str(BIG)}, {}, 400, "limit"),
    ("/api/v0", {"offset": "²"}, {}, 400, "offset"),
    ("/api/v0/t1/solo/event", {"limit": HUGE}, {}, 400, "limit"),
    (f"/api/v0/t1/solo/event/{BIG}", {}, {}, 400, "id"),
    ("/api/v0/t1/solo/event/%C2%B2", {}, {}, 400, "id"),
    ("/api/v0/t1/arr/event", {"arrayIndex": "9" * 40}, {}, 400, "arrayIndex"),
    ("/api/v0/t%00/solo", {}, {}, 400, "path.task"),
]


@pytest.mark.parametrize(("url", "params", "headers", "status", "path"), GETS)
def test_refused_numbers_and_nul_name_the_parameter(client, url, params, headers, status, path):
    before = log_state(client)
    response = client.get(url, params=params, headers=headers)
    assert response.status_code == status, response.text
    paths = lamia_paths(response) if url.startswith("/api/v0") else v1_paths(response)
    assert path in paths
    assert log_state(client) == before


def test_non_ascii_digits_in_last_event_id(client):
    # Latin-1 on the wire, as a browser's header could carry it: '²' passes str.isdigit().
    response = client.get("/api/v1/events/stream", headers={"Last-Event-ID": b"\xb2"})
    assert response.status_code == 422
    assert v1_paths(response) == ["header.last-event-id"]


def test_a_huge_array_index_on_a_job_event_post(client):
    before = log_state(client)
    response = client.post(
        "/api/v0/t1/arr/event", params={"arrayIndex": "9" * 40}, json={"eventClass": "BEAT"}
    )
    assert response.status_code == 400
    assert lamia_paths(response) == ["query.arrayIndex"]
    assert response.json()["created"] is False
    nul = client.post("/api/v0/t1/p%00/event", json={"eventClass": "BEAT"})
    assert nul.status_code == 400 and lamia_paths(nul) == ["path.proc"]
    assert log_state(client) == before


def test_dashboard_pages_refuse_huge_numbers(client):
    assert client.get("/incidents", params={"before_id": HUGE}).status_code == 422
    assert client.get("/groups", params={"offset": HUGE}).status_code == 422
    assert client.get("/groups/t1", params={"first": HUGE}).status_code == 422


# --- a log that already holds what is refused now -------------------------------------------


def test_every_read_renders_a_log_holding_unshowable_times(client, db_url):
    engine = db.make_engine(db_url, writer=True)
    try:
        store_poison(engine)
    finally:
        engine.dispose()
    (incident,) = client.get("/api/v1/incidents").json()["incidents"]
    reads = [*READS, f"/api/v1/incidents/{incident['id']}"]
    failed = {url: r.status_code for url in reads if (r := client.get(url)).status_code != 200}
    assert failed == {}
    events = client.get("/api/v1/events", params={"limit": 10_000}).json()["events"]
    shown = {e["kind"]: e["ts"] for e in events}
    assert shown["x"] == "1e+300" and shown["incident"] == repr(YEAR_1)
    assert client.get("/api/v1/tasks/p1").json()["updated_at"] == repr(MS_AS_SECONDS)
    assert repr(MS_AS_SECONDS) in client.get("/tasks/p1").text


def test_the_live_stream_delivers_a_log_holding_unshowable_times(tmp_path):
    url = f"sqlite:///{tmp_path / 'sse.db'}"
    engine = db.make_engine(url, writer=True)
    try:
        db.upgrade(engine)
        seqs = store_poison(engine)
    finally:
        engine.dispose()
    with ServerProcess(url) as server:
        got = read_events(server.url, len(seqs), params={"since_seq": 0})
    assert [seq for seq, _ in got] == seqs
    assert {e["kind"]: e["ts"] for _, e in got}["x"] == "1e+300"


@pytest.mark.parametrize(
    ("key", "sort"),
    [
        ([{"a": 1}, "x"], "-updated_at"),
        (["x", [1]], "id"),
        (["\x00", "x"], "status"),
        ([2**70, "x"], "id"),
        (["x", 2**70], "-updated_at"),
        ([1e308, "x"], "status"),
        (["2024", "x"], "created_at"),
    ],
)
def test_a_cursor_this_server_did_not_issue_is_refused(client, key, sort):
    cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    response = client.get("/api/v1/tasks", params={"cursor": cursor, "sort": sort})
    assert response.status_code == 422
    assert v1_paths(response) == ["query.cursor"]
    # The page sorts by update time: a number then an id is a key it can compare.
    page_can_compare = isinstance(key[0], int | float) and isinstance(key[1], str)
    page = client.get("/tasks", params={"cursor": cursor})
    assert page.status_code == (200 if page_can_compare else 422)
