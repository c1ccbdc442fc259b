"""Ingest and read through the REST API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import ON_EACH_WRITER, make_client
from tests.fleet import HISTORY, WINDOW, ping, task


def count_events(client) -> int:
    return len(client.get("/api/v1/events", params={"limit": 10000}).json()["events"])


@ON_EACH_WRITER
def test_batch_is_acknowledged_with_its_seqs(client):
    r = client.post("/api/v1/events", json=HISTORY)
    assert r.status_code == 202
    assert r.json() == {
        "accepted": len(HISTORY),
        "duplicates": 0,
        "first_seq": 1,
        "last_seq": len(HISTORY),
    }
    r = client.post("/api/v1/events", json=task(9, "2024-05-01 10:00:20.000", "created"))
    assert r.json()["first_seq"] == len(HISTORY) + 1


@ON_EACH_WRITER
def test_ndjson_ingest(client):
    body = b"\n".join(orjson.dumps(item) for item in HISTORY)
    r = client.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 202 and r.json()["accepted"] == len(HISTORY)
    assert count_events(client) == len(HISTORY)


def test_unknown_fields_are_kept(client):
    item = {**task(5, "2024-05-01 10:00:00.000", "created"), "payload": {"x": [1, 2]}}
    client.post("/api/v1/events", json=item)
    (event,) = client.get("/api/v1/events").json()["events"]
    assert event["body"] == item


@ON_EACH_WRITER
def test_event_id_makes_resending_idempotent(client):
    items = [
        {**task(i, "2024-05-01 10:00:00.000", "created"), "event_id": f"e{i}"} for i in range(5)
    ]
    first = client.post("/api/v1/events", json=items).json()
    assert first["duplicates"] == 0
    again = client.post("/api/v1/events", json=items + [items[0]]).json()
    assert again == {"accepted": 6, "duplicates": 6, "first_seq": None, "last_seq": None}
    mixed = client.post("/api/v1/events", json=[items[1], {**items[1], "event_id": "new"}]).json()
    assert mixed["duplicates"] == 1 and mixed["first_seq"] == mixed["last_seq"] == 6
    assert count_events(client) == 6
    assert client.get("/api/v1/tasks/1").json()["events"] == 2  # the original and "new"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "path"),
    [
        (b"{not json", "application/json", 400, "body"),
        (b'{"id_task": 1, "status": "x"}\n[', "application/x-ndjson", 400, "line 2"),
        (
            b'[{"id_task": 1, "status": "created"}, {"id_task": 2}]',
            "application/json",
            422,
            "[1].status",
        ),
        (
            b'{"id_agent": 3, "datetime": "soon", "state": "idle"}',
            "application/json",
            422,
            "datetime",
        ),
        (b"[1, 2]", "application/json", 422, "[0]"),
        (b'{"what": "is this"}', "application/json", 422, "$"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(client, body, content_type, status, path):
    client.post("/api/v1/events", json=task(1, "2024-05-01 10:00:00.000", "created"))
    r = client.post("/api/v1/events", content=body, headers={"Content-Type": content_type})
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == ("malformed" if status == 400 else "invalid")
    assert path in [d["path"] for d in error["details"]]
    assert count_events(client) == 1
    assert client.get("/api/v1/tasks").json()["total"] == 1


@ON_EACH_WRITER
def test_invalid_batch_lists_each_bad_item(client):
    bad = [
        task(1, "2024-05-01 10:00:00.000", "created"),
        {"id_task": 2},
        ping("", "2024-05-01 10:00:00.00", "idle"),
    ]
    details = client.post("/api/v1/events", json=bad).json()["error"]["details"]
    assert {(d["index"], d["path"]) for d in details} == {(1, "[1].status"), (2, "[2].id_agent")}
    assert count_events(client) == 0


def test_body_over_the_limit_is_413(db_url):
    with make_client(db_url, max_body_bytes=1000) as c:
        big = [task(i, "2024-05-01 10:00:00.000", "created") for i in range(100)]
        r = c.post("/api/v1/events", json=big)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "too_large"
        assert count_events(c) == 0


@ON_EACH_WRITER
def test_tasks_view(client):
    client.post("/api/v1/events", json=HISTORY)
    body = client.get("/api/v1/tasks").json()
    assert body["total"] == 3
    by_id = {t["id"]: t for t in body["tasks"]}
    assert by_id["1"]["status"] == "finished" and by_id["1"]["agent"] == "777"
    assert by_id["2"]["status"] == "aborted" and by_id["2"]["producer"] == "1"
    assert by_id["3"]["status"] == "submitted"

    one = client.get("/api/v1/tasks/1").json()
    assert [h["status"] for h in one["history"]] == ["created", "submitted", "finished"]
    assert one["queued_s"] == 2.0 and one["running_s"] == 8.0
    assert one["created_at"] == "2024-05-01T10:00:00.000Z"
    assert one["incidents"] == []

    two = client.get("/api/v1/tasks/2").json()
    assert len(two["incidents"]) == 1
    assert two["incidents"][0]["last_state"] == "await_path"
    assert client.get("/api/v1/tasks/404").status_code == 404


def test_task_filters_sort_and_cursor(client):
    client.post("/api/v1/events", json=HISTORY)
    get = lambda **p: client.get("/api/v1/tasks", params=p).json()  # noqa: E731
    assert [t["id"] for t in get(status="aborted")["tasks"]] == ["2"]
    assert sorted(t["id"] for t in get(status="aborted,finished")["tasks"]) == ["1", "2"]
    assert {t["id"] for t in get(agent="777")["tasks"]} == {"1", "3"}
    assert [t["id"] for t in get(producer="1")["tasks"]] == ["2"]
    assert [t["id"] for t in get(sort="id")["tasks"]] == ["1", "2", "3"]
    assert get(since="2024-05-01T10:00:12.5Z")["total"] == 1
    assert get(until="2024-05-01T10:00:00.5Z")["total"] == 1
    page1 = get(sort="id", limit=2)
    assert [t["id"] for t in page1["tasks"]] == ["1", "2"] and page1["total"] == 3
    page2 = get(sort="id", limit=2, cursor=page1["next_cursor"])
    assert [t["id"] for t in page2["tasks"]] == ["3"] and page2["next_cursor"] is None
    bad = client.get("/api/v1/tasks", params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "query.cursor"
    bad = client.get("/api/v1/tasks", params={"sort": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "query.sort"


def test_agents_view(client):
    client.post("/api/v1/events", json=HISTORY)
    agents = client.get("/api/v1/agents").json()["agents"]
    assert [a["id"] for a in agents] == ["777", "778"]
    a = client.get("/api/v1/agents/777").json()
    assert a["state"] == "idle" and a["liveness"] == "offline"
    assert a["pings"] == {"idle": 2, "await_path": 1, "moving": 1}
    assert [(h["state"], h["start"][11:19], (h["end"] or "")[11:19]) for h in a["history"]] == [
        ("idle", "10:00:00", "10:00:02"),
        ("await_path", "10:00:02", "10:00:04"),
        ("moving", "10:00:04", "10:00:10"),
        ("idle", "10:00:10", "10:00:10"),
        ("no signal", "10:00:10", a["history"][-1]["end"][11:19]),
    ]
    # Silent since its last ping (long ago): the gap lasts until the page was asked for.
    assert a["history"][-1]["end"] > "2024-05-02"
    assert a["tasks_processed"] == 1
    b = client.get("/api/v1/agents/778").json()
    assert b["state"] == "recover" and b["tasks_aborted"] == 1 and b["incidents"] == 1
    assert client.get("/api/v1/agents/nobody").status_code == 404


def test_liveness_follows_configured_silences(db_url):
    import time

    from tests.fleet import ping as make_ping
    from watchkeeper.events.timefmt import iso

    now = time.time()
    with make_client(db_url, stale_after=10, offline_after=60) as c:
        c.post(
            "/api/v1/events",
            json=[
                make_ping("fresh", iso(now - 1), "idle"),
                make_ping("quiet", iso(now - 30), "idle"),
                make_ping("gone", iso(now - 600), "idle"),
            ],
        )
        live = {a["id"]: a["liveness"] for a in c.get("/api/v1/agents").json()["agents"]}
        assert live == {"fresh": "online", "quiet": "stale", "gone": "offline"}
        assert [a["id"] for a in c.get("/api/v1/agents?liveness=stale").json()["agents"]] == [
            "quiet"
        ]


def test_incidents(client):
    client.post("/api/v1/events", json=HISTORY)
    body = client.get("/api/v1/incidents", params={"agent": "778"}).json()
    assert body["total"] == 1
    inc = body["incidents"][0]
    assert inc["task"] == "2" and inc["pings"]["await_path"] == 5
    assert client.get(f"/api/v1/incidents/{inc['id']}").json() == inc
    assert client.get("/api/v1/incidents", params={"task": "1"}).json()["total"] == 0
    assert (
        client.get("/api/v1/incidents", params={"since": "2024-05-01T10:00:12Z"}).json()["total"]
        == 0
    )
    assert client.get("/api/v1/incidents/999").status_code == 404
    groups = client.get("/api/v1/incidents/groups").json()["groups"]
    assert groups[0]["count"] == 1 and groups[0]["fingerprint"] == inc["fingerprint"]


def test_incidents_group_by_fingerprint(client):
    from tests.fleet import incident

    client.post(
        "/api/v1/events",
        json=[
            incident(1, "2024-05-01 10:00:00.00", 10, "timeout after 31 s on lift 7"),
            incident(2, "2024-05-01 10:00:01.00", 11, "timeout after 12 s on lift 3"),
            incident(3, "2024-05-01 10:00:02.00", 12, "battery low", last_state="moving"),
        ],
    )
    groups = client.get("/api/v1/incidents/groups").json()["groups"]
    assert [(g["count"], g["agents"]) for g in groups] == [(2, 2), (1, 1)]


def test_charts(client):
    client.post("/api/v1/events", json=HISTORY)
    rows = client.get("/api/v1/charts/waterfall", params=WINDOW).json()
    assert len(rows) == 8
    assert {"task", "status", "start", "end", "agent"} <= set(rows[0])
    task3 = [r for r in rows if r["task"] == "3"]
    assert task3[-1]["status"] == "submitted" and task3[-1]["end"] is None
    aborted_span = next(r for r in rows if r["status"] == "aborted")
    assert aborted_span["start"] == aborted_span["end"]
    assert (
        len(client.get("/api/v1/charts/waterfall", params={**WINDOW, "agent": "778"}).json()) == 3
    )

    assert client.get("/api/v1/charts/processed-per-agent", params=WINDOW).json() == [
        {"agent": "777", "finished": 1, "failed": 0, "aborted": 0},
        {"agent": "778", "finished": 0, "failed": 0, "aborted": 1},
    ]

    aborted = client.get("/api/v1/charts/aborted", params=WINDOW).json()
    assert sum(b["count"] for b in aborted["buckets"]) == 1
    (row,) = aborted["tasks"]
    assert row["task"] == "2" and row["last_state"] == "await_path"
    assert row["target_loc"] == "target-location-code" and row["subtasks_left"] == 2

    status = client.get("/api/v1/charts/component-status", params=WINDOW).json()
    assert {(r["component"], r["state"]) for r in status} >= {("777", "moving"), ("778", "recover")}
    lane = [r["state"] for r in status if r["component"] == "777"]
    assert lane == ["idle", "await_path", "moving", "idle", "no signal"]
    assert (
        client.get("/api/v1/charts/component-status", params={**WINDOW, "type": "lift"}).json()
        == []
    )
    bad = client.get("/api/v1/charts/waterfall", params={"since": "tomorrow-ish"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "query.since"


def test_events_log_paging_and_kinds(client):
    client.post("/api/v1/events", json=HISTORY)
    page = client.get("/api/v1/events", params={"since_seq": 3, "limit": 2}).json()
    assert [e["seq"] for e in page["events"]] == [4, 5] and page["next_since_seq"] == 5
    kinds = client.get("/api/v1/events", params={"kind": "incident"}).json()["events"]
    assert [e["kind"] for e in kinds] == ["incident"]


@ON_EACH_WRITER
def test_health_openapi_and_metrics(client):
    client.post("/api/v1/events", json=HISTORY[:3])
    assert client.get("/healthz").json()["last_seq"] == 3
    spec = client.get("/openapi.json").json()
    assert "/api/v1/events" in spec["paths"] and "/api/v1/charts/waterfall" in spec["paths"]
    assert client.get("/docs").status_code == 200
    assert "watchkeeper_events_committed_total 3.0" in client.get("/metrics").text


def test_producers_and_other_component_types(client):
    client.post(
        "/api/v1/events",
        json=HISTORY
        + [
            {
                "kind": "component.state",
                "type": "lift",
                "id": "L1",
                "state": "up",
                "ts": "2024-05-01T10:00:05Z",
            },
            {
                "kind": "component.state",
                "type": "lift",
                "id": "L1",
                "state": "down",
                "ts": "2024-05-01T10:00:07Z",
            },
        ],
    )
    producers = client.get("/api/v1/components", params={"type": "producer"}).json()
    assert [(p["id"], p["tasks_processed"]) for p in producers["components"]] == [
        ("0", 0),
        ("1", 0),
    ]
    assert producers["components"][0]["last_seen"] == "2024-05-01T10:00:14.000Z"
    lift = client.get("/api/v1/components/lift/L1").json()
    assert lift["state"] == "down"
    # The lift stopped pinging long ago: after its last state comes the silence.
    assert [h["state"] for h in lift["history"]] == ["up", "down", "no signal"]
    rows = client.get("/api/v1/charts/component-status", params={**WINDOW, "type": "lift"}).json()
    assert [(r["component"], r["state"], r["end"]) for r in rows] == [
        ("L1", "up", "2024-05-01T10:00:07.000Z"),
        ("L1", "down", "2024-05-01T10:00:07.000Z"),
        ("L1", "no signal", None),
    ]
    assert client.get("/api/v1/components/lift/nope").status_code == 404
