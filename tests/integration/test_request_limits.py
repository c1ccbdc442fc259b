"""Every bucketed, paged or span answer has a maximum, and asking for more is a 422 that names
the parameter and the maximum, with nothing done and nothing changed."""

from __future__ import annotations

import pytest

from tests.conftest import make_client
from tests.fleet import HISTORY, ping
from tests.lamia_jobs import create, post
from watchkeeper.config import ConfigError, Settings


@pytest.fixture
def fleet(db_url):
    with make_client(db_url, max_buckets=100, max_spans=50) as c:
        assert c.post("/api/v1/events", json=HISTORY).status_code == 202
        intents = {"intents": {i: {"host": "h"} for i in "abc"}}
        src = {"X-Watchkeeper-Source": "h"}
        assert c.post("/api/v1/state", json=intents, headers=src).is_success
        create(c, "t1", {"arr": 5000, "one": None})
        post(c, "t1", "arr", "STARTED", 1)
        post(c, "t1", "arr", "STARTED", 4000)
        yield c


def last_seq(client) -> int:
    return client.get("/healthz").json()["last_seq"]


def assert_refused(client, path: str, params: dict, field: str, reason: str) -> None:
    before = last_seq(client)
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid"
    assert {"path": f"query.{field}", "reason": reason} in error["details"]
    assert last_seq(client) == before


def test_a_bucket_count_over_max_buckets_is_refused_before_any_bucket_is_made(fleet):
    # The request that once built a 275 MiB answer: 3.6 million buckets.
    assert_refused(
        fleet,
        "/api/v1/charts/aborted",
        {"since": "-1h", "interval": "0.001"},
        "interval",
        "at most 100 buckets; widen interval or shorten the window",
    )
    assert_refused(
        fleet,
        "/api/v1/charts/aborted",
        {"since": "-1h", "interval": "35"},  # 103 buckets
        "interval",
        "at most 100 buckets; widen interval or shorten the window",
    )
    ok = fleet.get("/api/v1/charts/aborted", params={"since": "-1h", "interval": "36"})
    assert ok.status_code == 200 and len(ok.json()["buckets"]) == 100
    auto = fleet.get("/api/v1/charts/aborted", params={"since": "-3650d"})
    assert auto.status_code == 200 and len(auto.json()["buckets"]) <= 61


@pytest.mark.parametrize("chart", ["waterfall", "component-status"])
def test_spans_over_max_spans_are_refused_and_the_default_stays_within_it(fleet, chart):
    path = f"/api/v1/charts/{chart}"
    window = {"since": "2024-05-01T00:00:00Z", "until": "2024-05-02T00:00:00Z"}
    assert_refused(fleet, path, {**window, "limit": 51}, "limit", "at most 50 spans")
    for params in (window, {**window, "limit": 50}):
        r = fleet.get(path, params=params)
        assert r.status_code == 200 and 0 < len(r.json()) <= 50


TOO_MANY = [
    ("/api/v1/tasks", "limit", 1000),
    ("/api/v1/incidents", "limit", 1000),
    ("/api/v1/incidents/groups", "limit", 1000),
    ("/api/v1/events", "limit", 10_000),
    ("/api/v1/agents", "limit", 10_000),
    ("/api/v1/components", "limit", 10_000),
    ("/api/v1/groups", "limit", 1000),
    ("/api/v1/groups/t1", "slots", 10_000),
    ("/api/v1/groups/t1", "history_limit", 100_000),
    ("/api/v1/state/intents", "limit", 10_000),
    ("/api/v1/state/errors", "limit", 10_000),
    ("/api/v1/charts/waterfall", "rows", 10_000),
    ("/api/v1/charts/component-status", "lanes", 10_000),
    ("/api/v1/charts/processed-per-agent", "limit", 10_000),
    ("/api/v1/charts/aborted", "limit", 5000),
]


@pytest.mark.parametrize(("path", "field", "maximum"), TOO_MANY)
def test_every_page_has_a_maximum(fleet, path, field, maximum):
    reason = f"Input should be less than or equal to {maximum}"
    assert_refused(fleet, path, {field: maximum + 1}, field, reason)
    assert fleet.get(path, params={field: maximum}).status_code == 200


def test_pages_of_agents_components_intents_and_incident_groups(fleet):
    pings = [ping(n, "2024-05-01 10:00:00", "idle") for n in range(900, 905)]
    assert fleet.post("/api/v1/events", json=pings).is_success
    every = fleet.get("/api/v1/agents").json()
    page = fleet.get("/api/v1/agents", params={"offset": 2, "limit": 2}).json()
    assert page["total"] == every["total"] >= 5
    assert page["agents"] == every["agents"][2:4]
    comps = fleet.get("/api/v1/components", params={"limit": 1}).json()
    assert len(comps["components"]) == 1 and comps["total"] >= 5
    intents = fleet.get("/api/v1/state/intents", params={"offset": 1, "limit": 1}).json()
    assert [i["id"] for i in intents["intents"]] == ["b"] and intents["total"] == 3
    groups = fleet.get("/api/v1/incidents/groups", params={"limit": 1}).json()
    assert len(groups["groups"]) == 1 and groups["total"] >= 1


def test_group_slots_are_paged(fleet):
    def indices(params: dict) -> list[int]:
        group = fleet.get("/api/v1/groups/t1", params=params).json()
        arr = next(p for p in group["processes"] if p["name"] == "arr")
        assert arr["slot_count"] == 2
        return [slot["index"] for slot in arr["slots"]]

    assert indices({}) == [1]
    assert indices({"slots": 10_000}) == [1, 4000]
    assert indices({"proc": "arr", "first": 3000, "slots": 1001}) == [4000]


def test_lamia_lists_have_a_maximum_in_lamias_envelope(fleet):
    before = last_seq(fleet)
    for path in ("/api/v0", "/api/v0/t1/arr/event"):
        r = fleet.get(path, params={"limit": 10_001})
        assert r.status_code == 422
        assert r.json() == {"errors": {"limit": ["Must be at most 10000."]}}
        assert fleet.get(path, params={"limit": 10_000}).status_code == 200
    assert last_seq(fleet) == before


@pytest.mark.parametrize("name", ["max_buckets", "max_spans", "stream_backlog_bytes"])
def test_maxima_must_be_positive(name):
    with pytest.raises(ConfigError, match=name):
        Settings(**{name: 0}).check()


def test_abort_buckets_are_counted_by_the_database_at_their_edges(client):
    t0 = 1_714_557_600.0  # 2024-05-01T10:00:00Z
    at = [0.0, 10.0, 19.999, 55.0, 100.0, 100.5, -0.5]  # the last two fall outside the window
    events = [
        {"kind": "task.status", "task": f"a{n}", "status": "aborted", "agent": "7", "ts": t0 + dt}
        for n, dt in enumerate(at)
    ]
    assert client.post("/api/v1/events", json=events).status_code == 202
    params = {"since": str(t0), "until": str(t0 + 100), "interval": "10", "limit": "2"}
    answer = client.get("/api/v1/charts/aborted", params=params).json()
    assert [b["count"] for b in answer["buckets"]] == [1, 2, 0, 0, 0, 1, 0, 0, 0, 1]
    assert answer["buckets"][0]["start"] == "2024-05-01T10:00:00.000Z"
    assert answer["buckets"][-1]["end"] == "2024-05-01T10:01:40.000Z"
    assert answer["total"] == 5 and len(answer["tasks"]) == 2
    assert (
        client.get("/api/v1/charts/aborted", params={**params, "agent": "8"}).json()["total"] == 0
    )
