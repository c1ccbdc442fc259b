"""Lamia jobs in the fleet views (on SQLite and PostgreSQL): the host that submitted a task is
not an agent, failed jobs are not aborted ones, and a deleted task's jobs leave every view."""

from __future__ import annotations

import pytest

from tests.conftest import make_client
from tests.integration.test_rebuild import snapshot
from tests.lamia_jobs import create, post
from watchkeeper.store import db
from watchkeeper.store.rebuild import rebuild
from watchkeeper.views import ALL_VIEWS

T = 1714557600  # 2024-05-01T10:00:00Z
WINDOW = {"since": "2024-05-01T09:00:00Z", "until": "2024-05-01T11:00:00Z"}


def job(client, index: int, event_class: str, host: str, offset: float) -> None:
    post(client, "g", "arr", event_class, index, _meta={"host": host, "time": T + offset})


def feed_group(client) -> None:
    """Four jobs submitted from ``vm``: 0 finishes on wn01, 1 fails as seen from ``vm``,
    2 is aborted on wn02, 3 fails on wn01."""
    create(client, "g", {"arr": 4}, _meta={"host": "vm", "time": T})
    for index in range(4):
        job(client, index, "SUBMITTED", "vm", index)
    job(client, 0, "STARTED", "wn01", 10)
    job(client, 0, "DONE", "wn01", 20)
    job(client, 1, "FAILED", "vm", 30)
    job(client, 2, "STARTED", "wn02", 40)
    job(client, 2, "TERMINATED", "wn02", 50)
    job(client, 3, "STARTED", "wn01", 60)
    job(client, 3, "FAILED", "wn01", 70)


@pytest.fixture
def fleet(db_url):
    with make_client(db_url) as c:
        feed_group(c)
        # wn02 also pings: it is an agent in its own right.
        ping = {"kind": "component.state", "type": "agent", "id": "wn02", "state": "idle"}
        c.post("/api/v1/events", json=[{**ping, "ts": T + 5}])
        yield c


def ids(client, **params) -> list[str]:
    params = {"sort": "id", **params}
    return [t["id"] for t in client.get("/api/v1/tasks", params=params).json()["tasks"]]


def test_the_submit_host_is_not_an_agent(fleet):
    assert [a["id"] for a in fleet.get("/api/v1/agents").json()["agents"]] == ["wn01", "wn02"]
    agents = {t["id"]: t["agent"] for t in fleet.get("/api/v1/tasks").json()["tasks"]}
    assert agents == {"g/arr[0]": "wn01", "g/arr[1]": None, "g/arr[2]": "wn02", "g/arr[3]": "wn01"}
    history = fleet.get("/api/v1/tasks/g/arr[0]").json()["history"]
    assert [(h["status"], h["agent"]) for h in history] == [
        ("queued", None),
        ("running", "wn01"),
        ("finished", "wn01"),
    ]
    # The Lamia view still tells which host sent each event.
    events = fleet.get("/api/v0/g/arr/event", params={"arrayIndex": 1}).json()["entries"]
    assert [e["hostname"] for e in events] == ["vm", "vm"]


def test_failed_and_aborted_stay_apart(fleet):
    assert ids(fleet, status="failed") == ["g/arr[1]", "g/arr[3]"]
    assert ids(fleet, status="aborted") == ["g/arr[2]"]
    assert fleet.get("/api/v1/charts/processed-per-agent", params=WINDOW).json() == [
        {"agent": "wn01", "finished": 1, "failed": 1, "aborted": 0},
        {"agent": "wn02", "finished": 0, "failed": 0, "aborted": 1},
    ]
    wn01 = fleet.get("/api/v1/agents/wn01").json()
    assert (wn01["tasks_finished"], wn01["tasks_failed"], wn01["tasks_aborted"]) == (1, 1, 0)
    assert wn01["tasks_processed"] == 2
    aborted = fleet.get("/api/v1/charts/aborted", params=WINDOW).json()
    assert [t["task"] for t in aborted["tasks"]] == ["g/arr[2]"]
    failed = fleet.get("/api/v1/charts/aborted", params={**WINDOW, "status": "failed"}).json()
    assert [t["task"] for t in failed["tasks"]] == ["g/arr[3]", "g/arr[1]"]
    by_failed = fleet.get(
        "/api/v1/charts/processed-per-agent", params={**WINDOW, "sort": "-failed"}
    ).json()
    assert [r["agent"] for r in by_failed] == ["wn01", "wn02"]


def test_deleting_a_group_removes_its_jobs_from_every_view(fleet):
    assert fleet.delete("/api/v0/g").status_code == 200
    assert ids(fleet) == []
    assert fleet.get("/api/v1/tasks/g/arr[0]").status_code == 404
    assert fleet.get("/api/v1/charts/waterfall", params=WINDOW).json() == []
    assert fleet.get("/api/v1/charts/aborted", params=WINDOW).json()["total"] == 0
    assert fleet.get("/api/v1/charts/processed-per-agent", params=WINDOW).json() == []
    # wn01 was known only through the jobs; wn02 pings, so it stays, with nothing processed.
    agents = fleet.get("/api/v1/agents").json()["agents"]
    assert [(a["id"], a["tasks_processed"]) for a in agents] == [("wn02", 0)]
    assert fleet.get("/api/v1/components", params={"type": "producer"}).json()["total"] == 0
    # The log keeps every fact.
    kinds = [
        e["kind"] for e in fleet.get("/api/v1/events", params={"limit": 1000}).json()["events"]
    ]
    assert kinds.count("lamia.event") == 11 and kinds[-1] == "lamia.task.deleted"


def test_a_task_recreated_after_a_delete_counts_afresh(fleet):
    fleet.delete("/api/v0/g")
    feed_group(fleet)
    wn01 = fleet.get("/api/v1/agents/wn01").json()
    assert (wn01["tasks_finished"], wn01["tasks_failed"]) == (1, 1)
    assert len(ids(fleet)) == 4


def test_a_rebuild_gives_the_same_views_after_deletes(db_url):
    with make_client(db_url) as c:
        feed_group(c)
        c.delete("/api/v0/g")
        feed_group(c)
        job(c, 0, "FAILED", "wn03", 90)
    engine = db.make_engine(db_url, writer=True)
    try:
        before = snapshot(engine)
        assert len(before["tasks"]) == 4 and len(before["component_group_results"]) == 3
        rebuild(engine, ALL_VIEWS)
        assert snapshot(engine) == before
    finally:
        engine.dispose()


def test_other_tasks_of_a_producer_named_like_the_group_stay(fleet):
    other = {"kind": "task.status", "task": "g-build", "status": "finished", "producer": "g"}
    fleet.post("/api/v1/events", json=[{**other, "agent": "wn01", "ts": T + 80}])
    fleet.delete("/api/v0/g")
    assert ids(fleet) == ["g-build"]
    wn01 = fleet.get("/api/v1/agents/wn01").json()
    assert (wn01["tasks_finished"], wn01["tasks_failed"]) == (1, 0)
