"""``/api/v1/groups``, the stale flag, first-create-wins, and rebuilding the view from the log."""

from __future__ import annotations

import time

import orjson
import sqlalchemy as sa

from tests.conftest import make_client
from tests.lamia_jobs import create, post
from watchkeeper.api import lamia_wire
from watchkeeper.events import lamia
from watchkeeper.store import db
from watchkeeper.store.rebuild import rebuild
from watchkeeper.store.writer import store_events
from watchkeeper.views import ALL_VIEWS, groups, tasks


def fill(client) -> None:
    create(client, "old", {"a": None}, tags=["x"], username="ann")
    create(
        client,
        "new",
        {"arr": [3, 2], "solo": None},
        tags=["x", "y"],
        username="bob",
        comment="c",
        _meta={"host": "submit01", "time": 1700000000},
    )
    post(client, "new", "arr", "STARTED", 0, _meta={"host": "wn1"})
    post(client, "new", "arr", "PROGRESS", 1, progress=60, payload="p")
    post(client, "new", "arr", "DONE", 2)
    post(client, "new", "solo", "SUBMITTED")


def test_list_groups(client):
    fill(client)
    body = client.get("/api/v1/groups").json()
    assert body["total"] == 2
    assert [g["name"] for g in body["groups"]] == ["new", "old"]
    new = body["groups"][0]
    assert {k: new[k] for k in ("user", "comment", "tags", "host", "events", "process_count")} == {
        "user": "bob",
        "comment": "c",
        "tags": ["x", "y"],
        "host": "submit01",
        "events": 4,
        "process_count": 2,
    }
    # arr: a job at 60 % of the 2 jobs needed is 60 / (2 x 100) x 100 = 30; solo: 0 -> 15.
    assert (new["progress"], new["enough"], new["stale_jobs"]) == (15.0, False, 0)

    def names(**params) -> list[str]:
        return [g["name"] for g in client.get("/api/v1/groups", params=params).json()["groups"]]

    assert names(tag=["x", "y"]) == ["new"]
    assert names(tag="x") == ["new", "old"]
    assert names(user="ann") == ["old"]
    assert names(q="ne") == ["new"]
    assert names(limit=1, offset=1) == ["old"]


def test_group_detail_has_slots_and_history(client):
    fill(client)
    group = client.get("/api/v1/groups/new").json()
    arr, solo = group["processes"]
    assert (arr["name"], arr["type"], arr["n_jobs"], arr["threshold"], arr["tolerance"]) == (
        "arr",
        "array",
        3,
        None,
        2,
    )
    assert [
        (s["index"], s["task_id"], s["last_event_class"], s["status"], s["value"], s["host"])
        for s in arr["slots"]
    ] == [
        (0, "new/arr[0]", "STARTED", "running", None, "wn1"),
        (1, "new/arr[1]", "PROGRESS", "running", 60, None),
        (2, "new/arr[2]", "DONE", "finished", None, None),
    ]
    assert arr["status_counts"] == {"running": 2, "finished": 1}
    assert (arr["done_jobs"], arr["jobs_with_progress"], arr["events"]) == (1, 1, 3)
    assert [(h["progress"], h["enough"]) for h in arr["history"]] == [(0.0, False), (30.0, False)]
    assert [(s["index"], s["status"]) for s in solo["slots"]] == [(None, "queued")]
    assert solo["last_event_class"] == "SUBMITTED"


def test_unknown_group_is_a_v1_404(client):
    r = client.get("/api/v1/groups/nothing")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_running_jobs_without_news_are_stale(db_url):
    with make_client(db_url, lamia_stale_after=0.0) as c:
        fill(c)
        group = c.get("/api/v1/groups/new").json()
        arr = group["processes"][0]
        # Running jobs are stale at once; finished and queued ones never are.
        assert [(s["index"], s["stale"]) for s in arr["slots"]] == [
            (0, True),
            (1, True),
            (2, False),
        ]
        assert (arr["stale_jobs"], group["stale_jobs"]) == (2, 2)
        assert c.get("/api/v0/new/arr").json()["staleJobs"] == 2
        assert c.get("/api/v0/new").json()["processes"][1]["staleJobs"] == 0
    with make_client(db_url, lamia_stale_after=3600.0) as c:
        group = c.get("/api/v1/groups/new").json()
        assert group["stale_jobs"] == 0
        assert [s["stale"] for s in group["processes"][0]["slots"]] == [False, False, False]


def created_event(name: str, processes: dict, seq_time: float) -> object:
    body = orjson.dumps({"processes": processes})
    return lamia.task_created(name, body, client_ip="10.1.1.1", now=seq_time)


def test_the_first_create_wins_even_past_the_api_check(db_url):
    with make_client(db_url):
        pass  # migrations
    engine = db.make_engine(db_url, writer=True)
    now = time.time()
    first = created_event("race", {"mine": 2}, now)
    second = created_event("race", {"theirs": None}, now + 1)
    late_event = lamia.job_event(
        "race", "theirs", None, b'{"eventClass": "DONE"}', client_ip=None, now=now + 2
    )
    with engine.begin() as conn:
        # Two requests that both passed the check, committed in one group and then one more.
        store_events(conn, ALL_VIEWS, [[first], [second]])
        store_events(conn, ALL_VIEWS, [[created_event("race", {"again": 1}, now + 3)]])
        store_events(conn, ALL_VIEWS, [late_event])
    with engine.connect() as conn:
        assert groups.created_seq(conn, "race") == first.seq
        task = lamia_wire.get_task(conn, "race", now=now, stale_after=600)
        assert [p["name"] for p in task["processes"]] == ["mine"]
        assert task["nEvents"] == 0  # the event of a process that was never created is dropped
    engine.dispose()


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in (*groups.TABLES, tasks.tasks, tasks.task_history):
            keys = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*keys))]
    return out


def test_rebuild_reproduces_the_view(db_url):
    with make_client(db_url) as c:
        fill(c)
        create(c, "gone", {"z": 2})
        post(c, "gone", "z", "DONE", 1)
        assert c.delete("/api/v0/gone").status_code == 200
        create(c, "gone", {"z": None}, tags=["again"])
        post(c, "gone", "z", "STARTED")
        for i in range(3):
            post(c, "new", "arr", "PROGRESS", 0, progress=10.5 * (i + 1))
        listed = [{"type": "array", "name": "e", "nJobs": 2, "thresholdProgress": 100}]
        assert c.post("/api/v0/listed", json={"processes": listed}).status_code == 201
        post(c, "listed", "e", "PROGRESS", 1, progress="40")
        r = c.post("/api/v0/listed/e/event?arrayIndex=0", json={"progress": -5})
        assert r.status_code == 201
    engine = db.make_engine(db_url, writer=True)
    before = snapshot(engine)
    assert len(before["lamia_events"]) == 10 and len(before["lamia_groups"]) == 4
    assert rebuild(engine, ALL_VIEWS) > 0
    assert snapshot(engine) == before
    engine.dispose()


def test_a_replica_trusting_a_deleted_process_answers_404(db_url):
    # Two servers on one database: A remembers the process's shape, B deletes the task.
    with make_client(db_url) as a, make_client(db_url) as b:
        create(a, "t", {"arr": 4})
        post(a, "t", "arr", "STARTED", 1)
        assert b.delete("/api/v0/t").status_code == 200
        r = a.post("/api/v0/t/arr/event", params={"arrayIndex": 1}, json={"eventClass": "BEAT"})
        assert r.status_code == 404
        assert r.json()["errors"][0]["reason"] == "Process not found."
        assert a.get("/api/v1/groups").json()["total"] == 0
        # The request is in the log (it was accepted before the view saw the delete).
        kinds = [e["kind"] for e in a.get("/api/v1/events", params={"limit": 100}).json()["events"]]
        assert kinds[-2:] == ["lamia.event", "task.status"]


def test_the_job_event_check_finds_one_process_of_a_task_or_says_what_is_missing(db_url):
    with make_client(db_url) as c:
        create(c, "big", {f"p{i}": None for i in range(600)} | {"arr": [10, 8]})
        create(c, "small", {"p0": 3})
    engine = db.make_engine(db_url)
    with engine.connect() as conn:
        assert groups.lookup(conn, "big", "p599") == (
            True,
            {"n_jobs": None, "threshold": None, "host": None},
        )
        assert groups.lookup(conn, "big", "arr")[1] == {
            "n_jobs": 10,
            "threshold": None,
            "host": None,
        }
        assert groups.lookup(conn, "small", "p0")[1] == {
            "n_jobs": 3,
            "threshold": None,
            "host": None,
        }
        assert groups.lookup(conn, "big", "p600") == (True, None)  # no such process
        assert groups.lookup(conn, "none", "p0") == (False, None)  # no such task
    engine.dispose()


def test_openapi_lists_both_apis(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v0", "/api/v0/{task}", "/api/v0/{task}/{proc}/event"} <= set(paths)
    assert {"/api/v1/groups", "/api/v1/groups/{name}"} <= set(paths)
    assert not any("{rest" in path for path in paths)
