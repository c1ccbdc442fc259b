"""A Lamia session recorded from the original server, replayed against watchkeeper.

``tests/fixtures/lamia_session.json`` holds what the original Lamia server (CrankOne/lamia,
branch development, run from its sources by ``python -m tests.lamia_record``) answered to each
request of tests/lamia_session.py: its status, its answer, and the answer's shape (keys and
JSON types). Every request the original answered with 2xx must be answered with 2xx here, and
every answer must carry every key of the original's with its JSON type; where we answer
otherwise on purpose, :data:`DIFFERENCES` says so, and docs/lamia.md lists why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_client
from tests.lamia_session import SESSION, differences, encode, replay
from tests.support import ServerProcess
from watchkeeper.api.lamia_wire import merged_slashes

FIXTURE = Path(__file__).parents[1] / "fixtures" / "lamia_session.json"
RECORDING = json.loads(FIXTURE.read_text())
RECORDED = {entry["label"]: entry for entry in RECORDING["records"]}

#: Requests we answer with another status than the original did, on purpose (docs/lamia.md,
#: "Compatibility notes"): label → our status.
DIFFERENCES = {
    "by tag none": 200,  # `tag` filters like `tags`; the original's query schema refused it
    "by tag": 200,
    "not json": 400,  # the original answered 500
    "missing process": 404,  # the original answered 500
    "missing event": 404,  # the original answered 200 with an empty object
    "deleted process": 404,  # the original answered 500
    # Taken here, refused by the original: its event schema had no procID/taskID, its
    # _meta.time only epochs, its config only strings.
    "event columns": 201,
    "iso meta time": 201,
    "config object": 201,
    "bad order": 400,  # the original answered 500
    # A page is at most 10,000 entries; the original passed any limit to SQLite.
    "limit big": 422,
}

#: Where our answer has other keys or types than the original's, on purpose (docs/lamia.md,
#: "Compatibility notes"): label → the places (list indices written ``[]``).
TYPE_DIFFERENCES = {
    # ``fields`` selects the keys of each event; the original ignored it and wrote them all.
    "event fields": {".entries[]"},
    # Refusals: ``details`` is always an object saying what the refusal is about (the field's
    # ``path`` and messages by field name, the task, the process); the original's was a
    # string or a list of strings where the code path that refused was no schema.
    "no processes": {".errors[].details"},
    "missing process event": {".errors[].details"},
    "missing task event": {".errors[].details"},
    "delete missing": {".errors[].details"},
    # The original's only error lists of bare strings; every other one holds objects.
    "missing process events": {".errors[]"},
    "events of a solitary as array": {".errors[]"},
    # A bad ``limit``/``offset`` is answered like the original's other query errors.
    "bad limit": {".errors"},
    "bad fields": {".errors"},
    "bad index": {".errors[].details"},
}


def allowed(label: str, difference: str) -> bool:
    where, _, what = difference.partition(": ")
    where = re.sub(r"\[\d+\]", "[]", where)
    # Progress keeps its fraction (12.5) where the original truncated it to an integer.
    if where.endswith(".progress") and what.startswith("number, the original wrote integer"):
        return True
    return any(where.startswith(place) for place in TYPE_DIFFERENCES.get(label, ()))


def test_the_fixture_is_a_recording_of_this_session() -> None:
    assert [label for label, *_ in SESSION] == list(RECORDED)


@pytest.fixture
def answers(db_url: str) -> Iterator[dict[str, dict[str, Any]]]:
    with make_client(db_url) as client:

        def send(method: str, path: str, body: Any) -> tuple[int, Any]:
            headers = {} if body is None else {"Content-Type": "application/json"}
            r = client.request(method, path, content=encode(body), headers=headers)
            return r.status_code, r.json()

        yield {entry["label"]: entry for entry in replay(send)}


def test_statuses_are_the_originals(answers) -> None:
    wrong = {
        label: (ours["status"], RECORDED[label]["status"])
        for label, ours in answers.items()
        if ours["status"] != DIFFERENCES.get(label, RECORDED[label]["status"])
    }
    assert wrong == {}, "label: (ours, original)"


def test_every_key_of_the_originals_answers_with_its_type(answers) -> None:
    found = {}
    for label, ours in answers.items():
        if label in DIFFERENCES:
            continue
        shape = RECORDED[label]["shape"]
        wrong = [d for d in differences(ours["answer"], shape) if not allowed(label, d)]
        if wrong:
            found[label] = wrong
    assert found == {}


SHAPE_KEYS = ("name", "type", "kin", "task", "nJobs", "fTolerance", "thresholdProgress")


@pytest.mark.parametrize(
    "label", ["task", "list form task", "odd task", "string numbers task", "string pair task"]
)
def test_processes_are_what_the_original_made_of_the_same_body(answers, label) -> None:
    def shapes(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(p.get(k) for k in SHAPE_KEYS) for p in answer["processes"]]

    assert shapes(answers[label]["answer"]) == shapes(RECORDED[label]["answer"])


def test_the_comparison_can_fail() -> None:
    shape = RECORDED["array"]["shape"]
    answer = dict(RECORDED["array"]["answer"])
    assert differences(answer, shape) == []
    del answer["kin"]
    answer["nJobs"] = "10"
    assert sorted(differences(answer, shape)) == [
        ".kin: missing",
        ".nJobs: string, the original wrote integer",
    ]
    assert not allowed("array", ".kin: missing")


# --- Lamia's own Python client, as recorded against the original (tests/lamia_client_run.py)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("lamia") / "client.db"
    with ServerProcess(f"sqlite:///{path}") as server:
        yield server


@pytest.mark.parametrize("address_path", list(RECORDING["client"]))
def test_lamias_own_client_as_it_went_with_the_original(live, address_path) -> None:
    """Each HTTP request ``set_task_name``, ``follow_task`` and ``job_event_address`` made,
    sent again (following redirects, as ``requests`` does), answers the original's status.
    Without a path in the server's address the client uses ``/api/v0/`` and writes
    ``/api/v0//<task>``, which the original's Flask merged."""
    calls = RECORDING["client"][address_path]
    assert {call["call"] for call in calls} >= {"set_task_name", "follow_task"}
    for call in calls:
        r = httpx.request(
            call["method"], live.url + call["path"], json=call["body"], follow_redirects=True
        )
        assert r.status_code == call["status"], (call["call"], call["path"], r.text)
    task = calls[1]["path"].rsplit("/", 1)[1]
    answer = httpx.get(f"{live.url}/api/v0/{task}").json()
    jobs = {p["name"]: (p["type"], p["lastEventClass"], p["enough"]) for p in answer["processes"]}
    assert jobs == {"merge": ("solitary", "DONE", True), "gen": ("array", "DONE", True)}


@pytest.mark.parametrize(
    ("path", "merged"),
    [
        ("/api/v0//T", "/api/v0/T"),
        ("/api/v0//T//p///event", "/api/v0/T/p/event"),
        ("/api/v0/T/p/event", "/api/v0/T/p/event"),
        ("/api/v1//tasks", "/api/v1//tasks"),  # only Lamia's paths: Flask merged them
        ("/api/v0x//T", "/api/v0x//T"),
    ],
)
def test_repeated_slashes_are_merged_under_api_v0_only(path, merged) -> None:
    assert merged_slashes(path) == merged
