"""A Lamia exchange replayed: every request with the status the original server answered and the
keys (with their JSON types) of its answer, checked against ours.

The fixtures are written from the original's source (its ``lamia/monitoring`` resources,
marshmallow schemas and models, and its ``tests/curl_post_monit.sh`` walk-through): a status
and, for each key the original's schema dumped, the JSON types it could have. Our answers may
carry more keys; they must carry these, with these types. Then the HTTP calls of Lamia's own
Python client (``set_task_name``, ``follow_task``, ``job_event_address``) against a live
server.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from tests.support import ServerProcess

S, N, B, NULL, A, OBJ = "string", "number", "boolean", "null", "array", "object"

#: The original's ``ProcessSchema``/``ArraySchema`` (model columns, ``lastEventClass``,
#: ``progress`` as an integer, ``_links``) and the ``type`` its ``OneOfSchema`` added.
PROCESS = {
    "name": {S},
    "type": {S},
    "kin": {N},
    "task": {S},
    "thresholdProgress": {N, NULL},
    "lastEventClass": {S, NULL},
    "progress": {N},
    "_links": {OBJ},
}
ARRAY = {**PROCESS, "nJobs": {N}, "fTolerance": {N, NULL}}
#: ``TaskSchema``: the task's columns, its tags and processes, and ``_links``.
TASK = {
    "name": {S},
    "username": {S, NULL},
    "emailNotify": {S, NULL},
    "comment": {S, NULL},
    "submittedAt": {S},
    "submHostIP": {S, NULL},
    "hostname": {S, NULL},
    "depGraph": {S, NULL},
    "config": {S, NULL},
    "tags": {A},
    "processes": {A},
    "_links": {OBJ},
}
#: ``EventSchema``: the event's columns (``progress`` defaulted to 0).
EVENT = {
    "id": {N},
    "sentAt": {S, NULL},
    "recievedAt": {S},
    "payload": {S, NULL},
    "progress": {N},
    "eventClass": {S, NULL},
    "hostname": {S, NULL},
    "clientIP": {S, NULL},
    "procNumInArray": {N, NULL},
}
CREATED = {"created": {B}}
REFUSED = {"created": {B}, "errors": {A}}
ERROR = {"error": {S}}
ENTRIES = {"entries": {A}, "total": {N}}
QUERY_ERRORS = {"errors": {OBJ}}

#: The walk-through's depGraph is long; any string stands for it.
DEP_GRAPH = "QlpoOTFBWSZTWU/lCzkAFIp////be/r6///L///+J///3+ZhbC8EoJQSAgAsCACQgAkI4Abv"


def meta(time_value: Any = 1700000000.123456) -> dict[str, Any]:
    return {"host": "submit01", "time": time_value}


def event(event_class: str | None = "STARTED", **fields: Any) -> dict[str, Any]:
    body = {"payload": "arbitrary data here", "_meta": meta("1700000100.5"), **fields}
    if event_class is not None:
        body["eventClass"] = event_class
    return body


#: ``(method, path, body, original status, keys of the answer, keys of each list item)``;
#: ``T`` is the walk-through's task. In order: the walk-through, then what the original took.
EXCHANGE: list[tuple[str, str, Any, int, dict[str, set[str]] | None, dict | None]] = [
    # Lamia's client probes the name first (set_task_name): 404 means it is free.
    ("GET", "/api/v0/T", None, 404, ERROR, None),
    (
        "POST",
        "/api/v0/T",
        {
            "_meta": meta(),
            "depGraph": DEP_GRAPH,
            "tags": ["testing", "one", "two"],
            "config": "some cfg here",
            "processes": {"tstArray1": 10, "tstArray2": [10, 8], "someJob1": None},
        },
        201,
        CREATED,
        None,
    ),
    ("POST", "/api/v0/T", {"processes": {"x": None}}, 409, REFUSED, None),
    ("GET", "/api/v0/T", None, 200, TASK, None),
    ("GET", "/api/v0?tags=testing,two", None, 200, ENTRIES, TASK),
    ("GET", "/api/v0/T/tstArray2?asArray=true", None, 200, ARRAY, None),
    ("GET", "/api/v0/T/someJob1", None, 200, PROCESS, None),
    ("POST", "/api/v0/T/tstArray2/event?arrayIndex=3", event(), 201, CREATED, None),
    (
        "POST",
        "/api/v0/T/tstArray2/event?arrayIndex=3",
        event(payload='{"progress" : 90}'),
        201,
        CREATED,
        None,
    ),
    ("POST", "/api/v0/T/someJob1/event", event(), 201, CREATED, None),
    ("POST", "/api/v0/T/someJob1/event", event("FINISHED"), 201, CREATED, None),
    ("GET", "/api/v0/T/@all?hasEventsOfClass=STARTED", None, 200, None, PROCESS),
    ("GET", "/api/v0/T/tstArray2/event?arrayIndex=3", None, 200, ENTRIES, EVENT),
    # Bodies the original took.
    ("POST", "/api/v0/T/tstArray1/event?arrayIndex=1", event(progress="50"), 201, CREATED, None),
    ("POST", "/api/v0/T/tstArray1/event?arrayIndex=2", event(progress=-5), 201, CREATED, None),
    ("POST", "/api/v0/T/tstArray1/event?arrayIndex=4", event(None), 201, CREATED, None),
    (
        "POST",
        "/api/v0/T/tstArray1/event?arrayIndex=5",
        event(hostname="wn05"),
        201,
        CREATED,
        None,
    ),
    (
        "POST",
        "/api/v0/L",
        {
            "processes": [
                {"type": "array", "name": "entries", "nJobs": 3, "thresholdProgress": 1000},
                {"type": "solitary", "name": "merge"},
            ],
            "hostname": "submit02",
        },
        201,
        CREATED,
        None,
    ),
    ("GET", "/api/v0/L/entries", None, 200, ARRAY, None),
    (
        "POST",
        "/api/v0/Odd",
        {"processes": {"over": [10, 12], "empty": 0}, "name": "Other"},
        201,
        CREATED,
        None,
    ),
    ("GET", "/api/v0/Odd", None, 200, TASK, None),
    # The original's column names in queries.
    ("GET", "/api/v0?order=comment", None, 200, ENTRIES, TASK),
    ("GET", "/api/v0?order=submittedAt&sort=asc&fields=name,tags", None, 200, ENTRIES, None),
    ("GET", "/api/v0/T/tstArray2/event?order=recievedAt", None, 200, ENTRIES, EVENT),
    (
        "GET",
        "/api/v0/T/tstArray2/event?fields=id,recievedAt",
        None,
        200,
        ENTRIES,
        {"id": {N}, "recievedAt": {S}},
    ),
    # Refusals, in the original's shapes.
    ("GET", "/api/v0?sort=up", None, 400, QUERY_ERRORS, None),
    ("POST", "/api/v0/E", {"processes": {}}, 400, REFUSED, None),
    ("POST", "/api/v0/T/nothing/event?arrayIndex=1", event(), 400, REFUSED, None),
    ("POST", "/api/v0/T/tstArray1/event?arrayIndex=11", event(), 400, REFUSED, None),
    ("POST", "/api/v0/T/tstArray1/event", event(), 400, REFUSED, None),
    ("DELETE", "/api/v0", None, 403, ERROR, None),
    ("DELETE", "/api/v0/T", None, 200, {"deleted": {N}}, None),
    ("GET", "/api/v0/T", None, 404, ERROR, None),
]


def kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return B
    if isinstance(value, int | float):
        return N
    return {str: S, list: A, dict: OBJ}[type(value)]


def mismatches(answer: Any, keys: dict[str, set[str]]) -> list[str]:
    if not isinstance(answer, dict):
        return [f"expected an object, got {kind(answer)}"]
    return [
        f"{key}: expected {sorted(types)}, got {kind(answer[key]) if key in answer else 'none'}"
        for key, types in keys.items()
        if key not in answer or kind(answer[key]) not in types
    ]


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with make_client(db_url) as c:
        yield c


def test_the_exchange_answers_as_the_original_did(client):
    for method, path, body, status, keys, items in EXCHANGE:
        r = client.request(method, path, json=body)
        where = f"{method} {path}"
        assert r.status_code == status, (where, r.text)
        answer = r.json()
        if keys is not None:
            assert mismatches(answer, keys) == [], (where, answer)
        if items is not None:
            listed = answer["entries"] if isinstance(answer, dict) else answer
            assert listed, (where, answer)
            for item in listed:
                assert mismatches(item, items) == [], (where, item)
            if isinstance(answer, dict) and items is TASK:
                for process in (p for item in listed for p in item["processes"]):
                    expected = ARRAY if process["type"] == "array" else PROCESS
                    assert mismatches(process, expected) == [], (where, process)


def test_what_the_exchange_stored_means_what_it_meant(client):
    for method, path, body, _, _, _ in EXCHANGE[:-2]:
        client.request(method, path, json=body)
    task = client.get("/api/v0/T").json()
    array = next(p for p in task["processes"] if p["name"] == "tstArray2")
    # kin as the original's polymorphic identity; [10, 8] has no threshold amount.
    assert (array["kin"], array["nJobs"], array["fTolerance"], array["thresholdProgress"]) == (
        3,
        10,
        8,
        None,
    )
    assert array["_links"] == {"events": "/api/v0/T/tstArray2/event"}
    assert task["_links"] == {"self": "/api/v0/T", "collection": "/api/v0"}
    # The walk-through's "PROGRESS" step is a STARTED with an opaque payload: no progress.
    assert (array["progress"], array["enough"]) == (0, False)
    # A naive UTC time with microseconds, as the original's DateTime columns were dumped.
    assert task["submittedAt"] == "2023-11-14T22:13:20.123000"  # kept to the millisecond
    events = client.get("/api/v0/T/tstArray2/event?arrayIndex=3&order=recievedAt&sort=asc")
    first = events.json()["entries"][0]
    assert (first["progress"], first["recievedAt"]) == (0, first["receivedAt"])
    jobs = client.get("/api/v0/T/tstArray1/event?order=procNumInArray&sort=asc").json()
    assert [
        (e["procNumInArray"], e["eventClass"], e["progress"], e["hostname"])
        for e in jobs["entries"]
    ] == [
        (1, "STARTED", 50, "submit01"),
        (2, "STARTED", -5, "submit01"),
        (4, None, 0, "submit01"),
        (5, "STARTED", 0, "submit01"),
    ]
    odd = client.get("/api/v0/Odd").json()  # the path's name won over the body's
    assert [(p["name"], p["nJobs"], p["fTolerance"]) for p in odd["processes"]] == [
        ("over", 10, 12),
        ("empty", 0, None),
    ]
    assert client.get("/api/v0/Other").status_code == 404
    entries = client.get("/api/v0/L/entries").json()
    assert (entries["thresholdProgress"], entries["kin"]) == (1000, 3)
    assert client.get("/api/v0/L").json()["hostname"] == "submit02"


# --- Lamia's Python client (lamia/monitoring/client/api0.py), its HTTP calls as it makes them


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("lamia") / "compat.db"
    with ServerProcess(f"sqlite:///{path}") as server:
        yield server


def set_task_name(base: str, task: str) -> None:
    """``LamiaMonitoringAPI.set_task_name``: a raw ``http.client`` GET; anything but 404
    means the name is taken."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.netloc)
    conn.request("GET", os.path.join(url.path, task))
    r = conn.getresponse()
    r.read()
    conn.close()
    if r.status != 404:
        raise KeyError(task)


def job_event_address(base: str, task: str, process: str, array_num: int | None = None) -> str:
    """``LamiaMonitoringAPI.job_event_address`` (a solitary job's address lacks ``/event``)."""
    p = os.path.join(f"{base}/{task}", process)
    if array_num is not None:
        p += f"/event?arrayIndex={array_num}"
    return p


def test_lamias_python_client_against_a_live_server(live):
    base = f"{live.url}/api/v0"
    task = f"testing-{int(time.time()):x}"
    set_task_name(base, task)
    # follow_task: requests.post(url, json=rqData) with the minSuccess list form.
    body = {
        "_meta": {"host": socket.gethostname(), "time": str(time.time())},
        "depGraph": DEP_GRAPH,
        "processes": {"gen": [4, 2], "merge": None},
        "tags": ["ci"],
        "username": "crank",
        "config": "QlpoOTFBWSZTWQ==",
    }
    r = httpx.post(
        f"{base}/{task}", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()) == (201, {"created": True})
    with pytest.raises(KeyError):
        set_task_name(base, task)
    for index in range(2):
        address = job_event_address(base, task, "gen", index)
        r = httpx.post(
            address, json={"eventClass": "DONE", "_meta": {"host": "wn1", "time": str(time.time())}}
        )
        assert r.status_code == 201, r.text
    assert r.json()["enough"] is True  # 2 of the 2 jobs needed are DONE
    # The client's solitary address is the process itself: the original had no POST there.
    r = httpx.post(job_event_address(base, task, "merge"), json={"eventClass": "STARTED"})
    assert r.status_code == 405
    process = httpx.get(f"{base}/{task}/gen").json()
    assert (process["kin"], process["progress"], process["enough"]) == (3, 100, True)


# --- where the original answered otherwise than we first did ---------------------------------


def make_tasks(client: TestClient, count: int) -> list[str]:
    for i in range(count):
        body = {"processes": {"solo": None, "arr": 3}, "_meta": {"time": 1700000000 + i}}
        assert client.post(f"/api/v0/N{i}", json=body).status_code == 201
    return [f"N{i}" for i in range(count)]


def names(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [e["name"] for e in r.json()["entries"]]


def test_a_negative_limit_is_no_limit_and_a_negative_offset_none(client, monkeypatch):
    """As SQLite read the original's ``LIMIT -1`` and ``OFFSET -1``."""
    every = make_tasks(client, 4)
    order = "order=name&sort=asc"
    assert names(client.get(f"/api/v0?{order}&limit=-1")) == every
    assert names(client.get(f"/api/v0?{order}&limit=-7")) == every
    assert names(client.get(f"/api/v0?{order}&offset=-1")) == every
    assert names(client.get(f"/api/v0?{order}&offset=-1&limit=2")) == every[:2]
    assert names(client.get(f"/api/v0?{order}&limit=-1&offset=3")) == every[3:]
    assert client.get("/api/v0?limit=-1").json()["total"] == 4
    for i in range(3):
        client.post(f"/api/v0/N0/arr/event?arrayIndex={i}", json={"eventClass": "BEAT"})
    events = client.get("/api/v0/N0/arr/event?limit=-1&offset=-2&order=id&sort=asc").json()
    assert [e["procNumInArray"] for e in events["entries"]] == [0, 1, 2]
    # No limit is still at most a page of MAX_ENTRIES.
    monkeypatch.setattr("watchkeeper.api.lamia_wire.MAX_ENTRIES", 3)
    assert names(client.get(f"/api/v0?{order}&limit=-1")) == every[:3]
    assert client.get("/api/v0?limit=4").status_code == 422
    assert client.get("/api/v0?limit=-1x").json() == {
        "errors": {"limit": ["`limit' must be an integer."]}
    }


def test_a_body_error_names_its_field_as_the_originals_schemas_did(client):
    r = client.post("/api/v0/U", json={"processes": {"a": None}, "username": 5, "tags": [1]})
    assert r.status_code == 400
    by_path = {e["details"]["path"]: e for e in r.json()["errors"]}
    assert set(by_path) == {"username", "tags[0]"}
    assert by_path["username"]["details"]["username"] == [by_path["username"]["reason"]]
    assert by_path["tags[0]"]["details"] == {
        "path": "tags[0]",
        "tags": [by_path["tags[0]"]["reason"]],
    }
    make_tasks(client, 1)
    r = client.post("/api/v0/N0/solo/event", json={"_meta": {"time": "soon"}, "colour": "red"})
    assert sorted(k for e in r.json()["errors"] for k in e["details"]) == [
        "colour",
        "path",
        "path",
        "time",
    ]
    r = client.post("/api/v0/N0/arr/event?arrayIndex=x", json={"eventClass": "BEAT"})
    assert r.json()["errors"][0]["details"]["arrayIndex"] == [r.json()["errors"][0]["reason"]]
    # A field named "path" keeps our key: the path of the refused field.
    r = client.post("/api/v0/U", json={"processes": {"a": None}, "path": 1})
    assert r.json()["errors"][0]["details"] == {"path": "path"}


def test_an_array_index_for_a_solitary_job(client):
    make_tasks(client, 1)
    event = client.post("/api/v0/N0/solo/event", json={"eventClass": "BEAT"}).json()
    # Reading: the original looked the job up among the arrays, and found no such process.
    for path in ("/api/v0/N0/solo/event", f"/api/v0/N0/solo/event/{event['id']}"):
        r = client.get(f"{path}?arrayIndex=0")
        assert r.status_code == 404, r.text
        assert r.json()["error"] == "Process not found."
        assert client.get(path).status_code == 200
    assert client.get("/api/v0/N9/solo/event?arrayIndex=0").json()["error"] == (
        "No task named N9 exists."
    )
    # Posting: refused with the process under the original's processName.
    r = client.post("/api/v0/N0/solo/event?arrayIndex=0", json={"eventClass": "BEAT"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["details"] == {
        "taskName": "N0",
        "procName": "solo",
        "index": 0,
        "processName": "solo",
    }


@pytest.mark.parametrize("value", ["x", "", "1.5", "9" * 40, "²"])
def test_an_event_query_with_an_index_that_is_no_integer(client, value):
    make_tasks(client, 1)
    for path in ("/api/v0/N0/arr/event", "/api/v0/N0/arr/event/1"):
        r = client.get(path, params={"arrayIndex": value})
        assert r.status_code == 400, r.text
        assert r.json() == {"errors": {"arrayIndex": ["Not a valid integer."]}}
    assert client.get("/api/v0/N0/arr/event?arrayIndex=3").status_code == 200
