"""``/api/v0``: Lamia's monitoring API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import ON_EACH_WRITER, make_client
from tests.lamia_jobs import create, errors, log_size, post

PROCESSES = {"tstArray1": 10, "tstArray2": [10, 8], "someJob1": None}


@pytest.fixture
def lamia(client):
    create(
        client,
        "t1",
        PROCESSES,
        tags=["testing", "one", "two"],
        username="crank",
        comment="first",
        config="some cfg here",
        _meta={"host": "submit01", "time": 1700000000.5},
    )
    return client


def test_create_and_get_a_task(lamia):
    task = lamia.get("/api/v0/t1").json()
    assert {k: task[k] for k in ("name", "username", "comment", "tags", "config")} == {
        "name": "t1",
        "username": "crank",
        "comment": "first",
        "tags": ["testing", "one", "two"],
        "config": "some cfg here",
    }
    assert (task["submittedAt"], task["hostname"], task["submHostIP"]) == (
        "2023-11-14T22:13:20.500000",  # the original's naive UTC, microseconds
        "submit01",
        "testclient",
    )
    assert (task["progress"], task["enough"], task["nEvents"]) == (0.0, False, 0)
    assert [
        (p["name"], p["type"], p["nJobs"], p["thresholdProgress"]) for p in task["processes"]
    ] == [
        ("tstArray1", "array", 10, None),
        ("tstArray2", "array", 10, None),
        ("someJob1", "solitary", None, None),
    ]


def test_get_a_process(lamia):
    post(lamia, "t1", "tstArray2", "STARTED", 3)
    assert lamia.get("/api/v0/t1/tstArray2").json() == {
        "name": "tstArray2",
        "taskID": "t1",
        "type": "array",
        "nJobs": 10,
        "fTolerance": 8,
        "thresholdProgress": None,
        "lastEventClass": "STARTED",
        "lastEventAt": lamia.get("/api/v0/t1/tstArray2").json()["lastEventAt"],
        "nEvents": 1,
        "doneJobs": 0,
        "staleJobs": 0,
        "progress": 0,
        "enough": False,
        "task": "t1",
        "kin": 3,
        "_links": {"events": "/api/v0/t1/tstArray2/event"},
    }
    # Lamia's own walk-through adds parameters the server ignores.
    assert lamia.get("/api/v0/t1/tstArray2?asArray=true").status_code == 200


def test_list_filters_pages_orders_and_selects_fields(client):
    create(client, "a", {"p": None}, tags=["x", "y"], username="u2", _meta={"time": 300})
    create(client, "b", {"p": None}, tags=["x"], username="u1", _meta={"time": 100})
    create(client, "c", {"p": None}, tags=["y", "x", "z"], username="u3", _meta={"time": 200})

    def names(query: str) -> tuple[list[str], int]:
        r = client.get(f"/api/v0{query}")
        assert r.status_code == 200, r.text
        body = r.json()
        return [e["name"] for e in body["entries"]], body["total"]

    assert names("") == (["a", "b", "c"], 3)
    assert names("?tags=x,y") == (["a", "c"], 2)
    assert names("?tag=x&tag=y&tag=z") == (["c"], 1)
    assert names("?tags=three") == ([], 0)
    assert names("?order=submittedAt") == (["a", "c", "b"], 3)  # no sort: descending
    assert names("?order=submittedAt&sort=asc") == (["b", "c", "a"], 3)
    assert names("?order=username&sort=asc&offset=1&limit=1") == (["a"], 3)
    assert names("?sort=desc") == (["c", "b", "a"], 3)
    assert names("?limit=0") == ([], 3)
    r = client.get("/api/v0?fields=name,tags&tags=z")
    assert r.json() == {"entries": [{"name": "c", "tags": ["y", "x", "z"]}], "total": 1}
    assert client.get("/api/v0/").json()["total"] == 3


@ON_EACH_WRITER
def test_events_are_posted_listed_and_fetched(lamia):
    first = post(
        lamia,
        "t1",
        "tstArray2",
        "STARTED",
        3,
        payload="arbitrary data here",
        _meta={"host": "wn07", "time": "1700000100.25"},
    )
    assert first == {"created": True, "id": 2, "progress": 0.0, "enough": False}
    post(lamia, "t1", "tstArray2", "BEAT", 4)
    post(lamia, "t1", "tstArray2", "DONE", 3, payload={"rc": 0})
    post(lamia, "t1", "someJob1", "STARTED")

    slot = lamia.get("/api/v0/t1/tstArray2/event?arrayIndex=3").json()
    assert slot["total"] == 2
    assert slot["entries"][0] == {
        "id": 2,
        "taskID": "t1",
        "procID": "tstArray2",
        "procNumInArray": 3,
        "eventClass": "STARTED",
        "payload": "arbitrary data here",
        "progress": 0,  # none sent: the original's column default
        "sentAt": "2023-11-14T22:15:00.250000",
        "receivedAt": slot["entries"][0]["receivedAt"],
        "recievedAt": slot["entries"][0]["receivedAt"],  # the original's spelling
        "hostname": "wn07",
        "clientIP": "testclient",
    }
    assert slot["entries"][1]["payload"] == {"rc": 0}
    array = lamia.get("/api/v0/t1/tstArray2/event").json()
    assert [(e["procNumInArray"], e["eventClass"]) for e in array["entries"]] == [
        (3, "STARTED"),
        (4, "BEAT"),
        (3, "DONE"),
    ]
    page = lamia.get(
        "/api/v0/t1/tstArray2/event?order=id&sort=desc&limit=1&offset=1&fields=id,eventClass"
    ).json()
    assert page == {"entries": [{"id": 4, "eventClass": "BEAT"}], "total": 3}
    filtered = lamia.get("/api/v0/t1/tstArray2/event?eventClass=DONE&fields=procNumInArray")
    assert filtered.json() == {"entries": [{"procNumInArray": 3}], "total": 1}
    assert lamia.get("/api/v0/t1/tstArray2/event?hostname=wn07").json()["total"] == 1
    assert lamia.get("/api/v0/t1/tstArray2/event?ip=testclient").json()["total"] == 3
    assert lamia.get("/api/v0/t1/tstArray2/event/2").json()["eventClass"] == "STARTED"
    assert lamia.get("/api/v0/t1/tstArray2/event/2?arrayIndex=3").status_code == 200
    solo = lamia.get("/api/v0/t1/someJob1/event").json()
    assert [(e["procNumInArray"], e["eventClass"]) for e in solo["entries"]] == [(None, "STARTED")]


def test_all_is_restricted_to_its_task(lamia):
    create(lamia, "t2", {"tstArray1": 2, "other": None})
    post(lamia, "t2", "tstArray1", "STARTED", 0)
    post(lamia, "t1", "tstArray2", "STARTED", 1)
    post(lamia, "t1", "someJob1", "STARTED")
    post(lamia, "t1", "someJob1", "DONE")

    def names(task: str, query: str = "") -> list[str]:
        r = lamia.get(f"/api/v0/{task}/@all{query}")
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()]

    assert names("t1", "?hasEventsOfClass=STARTED") == ["tstArray2", "someJob1"]
    assert names("t1", "?hasEventsOfClass=DONE") == ["someJob1"]
    assert names("t2", "?hasEventsOfClass=STARTED") == ["tstArray1"]
    assert names("t2", "?hasEventsOfClass=DONE") == []
    assert names("t1") == ["tstArray1", "tstArray2", "someJob1"]


def test_delete_one_and_refuse_batch_delete(lamia):
    post(lamia, "t1", "someJob1", "STARTED")
    r = lamia.delete("/api/v0")
    assert r.status_code == 403
    assert errors(r)[0]["reason"] == "By security reasons, batch deletion of tasks is forbidden."
    assert lamia.get("/api/v0/t1").status_code == 200
    assert lamia.delete("/api/v0/t1").json() == {"deleted": 1}
    assert lamia.get("/api/v0/t1").status_code == 404
    assert lamia.get("/api/v0").json() == {"entries": [], "total": 0}
    assert lamia.get("/api/v1/groups").json()["total"] == 0
    assert lamia.delete("/api/v0/t1").status_code == 404
    # The name is free again, and the new task starts from nothing.
    create(lamia, "t1", {"someJob1": 2})
    assert lamia.get("/api/v0/t1/someJob1").json()["nEvents"] == 0
    # The jobs leave the tasks view; the log keeps every request.
    assert lamia.get("/api/v1/tasks/t1/someJob1").status_code == 404
    kinds = [e["kind"] for e in lamia.get("/api/v1/events").json()["events"]]
    assert "lamia.event" in kinds and "lamia.task.deleted" in kinds


def test_jobs_are_watchkeeper_tasks(lamia):
    for event_class, status in [
        ("SUBMITTED", "queued"),
        ("STARTED", "running"),
        ("BEAT", "running"),
        ("PROGRESS", "running"),
        ("DONE", "finished"),
    ]:
        post(lamia, "t1", "tstArray1", event_class, 2, _meta={"host": "wn03"})
        assert lamia.get("/api/v1/tasks/t1/tstArray1[2]").json()["status"] == status
    post(lamia, "t1", "tstArray1", "FAILED", 5)
    post(lamia, "t1", "someJob1", "TERMINATED")
    post(lamia, "t1", "tstArray2", "Checkpointed", 0)
    listed = lamia.get("/api/v1/tasks", params={"producer": "t1", "sort": "id"}).json()
    assert [(t["id"], t["status"]) for t in listed["tasks"]] == [
        ("t1/someJob1", "aborted"),
        ("t1/tstArray1[2]", "finished"),
        ("t1/tstArray1[5]", "failed"),
        ("t1/tstArray2[0]", "checkpointed"),
    ]
    job = lamia.get("/api/v1/tasks/t1/tstArray1[2]").json()
    assert job["agent"] == "wn03"
    assert [h["status"] for h in job["history"]] == [
        "queued",
        "running",
        "running",
        "running",
        "finished",
    ]
    assert lamia.get("/api/v1/agents/wn03").json()["tasks_finished"] == 1


def test_indices_zero_to_n_are_accepted_as_lamia_did(lamia):
    # HTCondor numbers jobs from 0, Slurm arrays often from 1: both fit 0..nJobs.
    assert post(lamia, "t1", "tstArray1", "STARTED", 0)["created"] is True
    assert post(lamia, "t1", "tstArray1", "STARTED", 10)["created"] is True


def test_the_original_python_clients_double_encoded_body(client):
    body = orjson.dumps(orjson.dumps({"processes": {"job": None}, "tags": ["py"]}).decode())
    r = client.post("/api/v0/py", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    assert client.get("/api/v0/py").json()["tags"] == ["py"]


def test_create_with_the_name_in_the_body(client):
    r = client.post("/api/v0", json={"name": "named", "processes": {"a": 2}})
    assert r.status_code == 201
    assert client.get("/api/v0/named/a").json()["nJobs"] == 2


# --- refusals: status, reason, and nothing stored ------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("POST", "/api/v0/t1", {"processes": {"x": None}}, 409, "Task name is not unique."),
        ("POST", "/api/v0/t9", {"processes": {}}, 400, "a task needs at least one process"),
        ("POST", "/api/v0/t9", {"tags": ["x"]}, 400, "a task needs at least one process"),
        (
            "POST",
            "/api/v0/t9",
            {"processes": {"a": [3, -1]}},
            400,
            "the jobs needed must be an integer from 0 to 1000000",
        ),
        ("POST", "/api/v0/t9", {"processes": {"a": 1}, "owner": "me"}, 400, "unknown field"),
        ("POST", "/api/v0", {"processes": {"a": 1}}, 400, "A task name is required."),
        (
            "POST",
            "/api/v0/t1/tstArray1/event?arrayIndex=11",
            {"eventClass": "BEAT"},
            400,
            "Process index is not within the range.",
        ),
        (
            "POST",
            "/api/v0/t1/tstArray1/event?arrayIndex=-1",
            {"eventClass": "BEAT"},
            400,
            "Process index is not within the range.",
        ),
        (
            "POST",
            "/api/v0/t1/tstArray1/event?arrayIndex=one",
            {"eventClass": "BEAT"},
            400,
            "expected an integer, got 'one'",
        ),
        (
            "POST",
            "/api/v0/t1/tstArray1/event",
            {"eventClass": "BEAT"},
            400,
            "Is not a standalone process: arrayIndex is required.",
        ),
        (
            "POST",
            "/api/v0/t1/someJob1/event?arrayIndex=0",
            {"eventClass": "BEAT"},
            400,
            "Process is not an array.",
        ),
        (
            "POST",
            "/api/v0/t1/someJob1/event",
            {"eventClass": "BEAT", "rc": 0},
            400,
            "unknown field",
        ),
        ("POST", "/api/v0/t1/someJob1/event", {"eventClass": 5}, 400, "expected a string"),
        (
            "POST",
            "/api/v0/t1/someJob1/event",
            {"eventClass": "PROGRESS", "progress": "fifty"},
            400,
            "expected a number (or a string holding one)",
        ),
        ("POST", "/api/v0/t1/nothing/event", {"eventClass": "BEAT"}, 404, "Process not found."),
        (
            "POST",
            "/api/v0/t1/nothing/event?arrayIndex=2",
            {"eventClass": "BEAT"},
            400,
            "Process array does not exist.",
        ),
        (
            "POST",
            "/api/v0/t9/someJob1/event",
            {"eventClass": "BEAT"},
            404,
            "No task named t9 exists.",
        ),
        ("POST", "/api/v0/t1/@all/event", {"eventClass": "BEAT"}, 404, "Process not found."),
        (
            "DELETE",
            "/api/v0",
            None,
            403,
            "By security reasons, batch deletion of tasks is forbidden.",
        ),
        ("DELETE", "/api/v0/t9", None, 404, "No task named t9 exists."),
        ("PUT", "/api/v0/t1", {"processes": {"a": 1}}, 405, "Method not allowed."),
        ("PATCH", "/api/v0/t1/someJob1", {}, 405, "Method not allowed."),
    ],
)
def test_refusals_store_nothing(lamia, method, path, body, status, reason):
    before = log_size(lamia)
    r = lamia.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert any(reason in e["reason"] for e in errors(r)), r.text
    if method == "POST":
        assert r.json()["created"] is False
    assert log_size(lamia) == before
    assert lamia.get("/api/v0").json()["total"] == 1


def test_refusal_details(lamia):
    r = lamia.post("/api/v0/t1/tstArray1/event?arrayIndex=11", json={"eventClass": "BEAT"})
    assert errors(r) == [
        {"reason": "Process index is not within the range.", "details": {"index": 11, "nJobs": 10}}
    ]
    r = lamia.post("/api/v0/t9", json={"processes": {"a": 1}, "owner": "me", "tags": [1]})
    assert [e["details"]["path"] for e in errors(r)] == ["owner", "tags[0]"]
    r = lamia.post("/api/v0/t9", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and errors(r)[0]["details"] == {"path": "body"}


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/api/v0/t9", 404, "No task named t9 exists."),
        ("/api/v0/t9/someJob1", 404, "No task named t9 exists."),
        ("/api/v0/t1/nothing", 404, "Process not found."),
        ("/api/v0/t9/@all?hasEventsOfClass=DONE", 404, "No task named t9 exists."),
        ("/api/v0/t9/someJob1/event", 404, "No task named t9 exists."),
        ("/api/v0/t1/nothing/event", 404, "Process not found."),
        ("/api/v0/t1/someJob1/event/999", 404, "Event not found."),
        ("/api/v0/t1/someJob1/event/abc", 404, "Event not found."),
        ("/api/v0/t1/someJob1/event?arrayIndex=2", 404, "Process not found."),
        ("/api/v0/t1/tstArray1/event?arrayIndex=12", 400, "Process index is not within the range."),
        ("/api/v0/t1/a/b/c", 404, "No such resource."),
    ],
)
def test_bad_queries(lamia, path, status, reason):
    r = lamia.get(path)
    assert r.status_code == status, r.text
    assert errors(r)[0]["reason"] == reason
    if status in (403, 404):
        assert r.json()["error"] == reason  # the original's {"error": "<sentence>"}


@pytest.mark.parametrize(
    ("path", "param", "reason"),
    [
        (
            "/api/v0/t1/tstArray1/event?limit=ten",
            "limit",
            "`limit' must be an integer.",
        ),
        ("/api/v0/t1/tstArray1/event?fields=id,colour", "fields", "Unknown field: colour."),
        ("/api/v0/t1/tstArray1/event?order=colour", "order", "Unknown field: colour."),
        ("/api/v0?fields=name,owner", "fields", "Unknown field: owner."),
        ("/api/v0?order=owner", "order", "Unknown field: owner."),
        ("/api/v0?order=name&sort=up", "sort", "Must be one of: asc, desc."),
        ("/api/v0?offset=1.5", "offset", "`offset' must be an integer."),
        ("/api/v0/t1/tstArray1/event?arrayIndex=x", "arrayIndex", "Not a valid integer."),
    ],
)
def test_bad_query_parameters_in_the_original_query_error_shape(lamia, path, param, reason):
    r = lamia.get(path)
    assert r.status_code == 400, r.text
    assert r.json() == {"errors": {param: [reason]}}


def test_an_event_of_another_process_is_not_found(lamia):
    event_id = post(lamia, "t1", "tstArray1", "BEAT", 1)["id"]
    assert lamia.get(f"/api/v0/t1/tstArray1/event/{event_id}").status_code == 200
    assert lamia.get(f"/api/v0/t1/someJob1/event/{event_id}").status_code == 404
    assert lamia.get(f"/api/v0/t1/tstArray1/event/{event_id}?arrayIndex=2").status_code == 404


def test_roles_and_the_lamia_envelope(db_url):
    tokens = {"reader-token-1": "read", "ingest-token-1": "ingest", "admin-token-1": "admin"}
    with make_client(db_url, tokens=tokens) as c:
        body = {"processes": {"a": None}}
        r = c.post("/api/v0/t", json=body)
        assert r.status_code == 401
        assert r.json() == {
            "created": False,
            "errors": [{"reason": "a bearer token is required", "details": None}],
        }
        read = {"Authorization": "Bearer reader-token-1"}
        ingest = {"Authorization": "Bearer ingest-token-1"}
        r = c.post("/api/v0/t", json=body, headers=read)
        assert r.status_code == 403 and "may not ingest" in errors(r)[0]["reason"]
        assert c.post("/api/v0/t", json=body, headers=ingest).status_code == 201
        assert c.get("/api/v0/t", headers=ingest).status_code == 403
        assert c.get("/api/v0/t", headers=read).status_code == 200
        assert (
            c.post("/api/v0/t/a/event", json={"eventClass": "X"}, headers=read).status_code == 403
        )
        assert c.delete("/api/v0/t", headers=read).status_code == 403
        # Deleting is an admin's: a job's token may report, never erase.
        r = c.delete("/api/v0/t", headers=ingest)
        assert r.status_code == 403 and "may not admin" in errors(r)[0]["reason"]
        assert c.get("/api/v0/t", headers=read).status_code == 200
        assert c.delete("/api/v0", headers=ingest).status_code == 403
        admin = {"Authorization": "Bearer admin-token-1"}
        assert c.delete("/api/v0/t", headers=admin).json() == {"deleted": 1}
        assert c.get("/api/v0/t", headers=read).status_code == 404
        # /api/v1 keeps its own envelope.
        assert c.get("/api/v1/groups").json()["error"]["code"] == "unauthorized"
