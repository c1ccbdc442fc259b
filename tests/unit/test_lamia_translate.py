"""Lamia requests into events: validation, the compatibility quirks, status mapping, progress."""

from __future__ import annotations

import orjson
import pytest

from watchkeeper.events import InvalidBatch, lamia
from watchkeeper.events.decode import MalformedBody
from watchkeeper.views.groups import enough_of, progress_of

NOW = 1_700_000_000.0


def created(body: object, task: str = "t") -> dict:
    return lamia.task_created(task, orjson.dumps(body), client_ip="10.0.0.1", now=NOW).attrs


def refused(call) -> dict[str, str]:
    with pytest.raises(InvalidBatch) as info:
        call()
    return {issue.path: issue.reason for issue in info.value.issues}


def test_the_four_process_forms():
    attrs = created(
        {
            "processes": {
                "solo": None,
                "plain": 10,
                "needed": [10, 8],
                "amount": {"nJobs": 4, "threshold": 2500},
                "solo_amount": {"threshold": 1e6},
            }
        }
    )
    assert {name: lamia.shape_of(spec) for name, spec in attrs["processes"].items()} == {
        "solo": (None, None, None),
        "plain": (10, None, None),
        "needed": (10, None, 8),  # jobs needed, not an amount of progress
        "amount": (4, 2500.0, None),
        "solo_amount": (None, 1e6, None),
    }


def test_the_original_list_form_and_its_columns():
    attrs = created(
        {
            "processes": [
                {"type": "array", "name": "entries", "nJobs": 3, "thresholdProgress": 1000},
                {"type": "solitary", "name": "solo"},
                {"type": "array", "name": "needed", "nJobs": 10, "fTolerance": 8},
                {"name": "inferred", "nJobs": 2},
            ]
        }
    )
    assert {name: lamia.shape_of(spec) for name, spec in attrs["processes"].items()} == {
        "entries": (3, 1000.0, None),
        "solo": (None, None, None),
        "needed": (10, None, 8),
        "inferred": (2, None, None),
    }


def test_shapes_the_original_took():
    attrs = created(
        {
            "processes": {"over": [10, 12], "empty": 0, "zero_needed": [4, 0]},
            "name": "other",  # the path's name wins, as in the original
            "hostname": "submit02",
        }
    )
    shapes = {name: lamia.shape_of(spec) for name, spec in attrs["processes"].items()}
    assert shapes == {
        "over": (10, None, 12),
        "empty": (0, None, None),
        "zero_needed": (4, None, None),
    }
    assert (attrs["task"], attrs["host"]) == ("t", "submit02")


def test_creates_stored_before_needed_and_amount_were_apart_still_read():
    # The list form used to carry its needed jobs in both keys.
    assert lamia.shape_of({"nJobs": 10, "threshold": 8, "tolerance": 8}) == (10, None, 8)
    assert lamia.shape_of({"nJobs": 4, "threshold": 25.0, "tolerance": None}) == (4, 25.0, None)


def test_task_fields_and_meta_are_recorded():
    attrs = created(
        {
            "processes": {"a": 2},
            "tags": ["x", "y", "x"],
            "username": "crank",
            "comment": "c",
            "config": {"k": [1]},
            "emailNotify": "me@example.org",
            "typeLabel": "Analysis",
            "_meta": {"host": "lxplus7", "time": "1699999999.25"},
        }
    )
    assert attrs["tags"] == ["x", "y"]
    assert (attrs["username"], attrs["comment"], attrs["config"]) == ("crank", "c", {"k": [1]})
    assert (attrs["emailNotify"], attrs["taskClass"]) == ("me@example.org", "Analysis")
    assert (attrs["host"], attrs["sent_at"], attrs["client_ip"]) == (
        "lxplus7",
        1699999999.25,
        "10.0.0.1",
    )


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (1699999999.5, 1699999999.5),
        ("1699999999.123456789", 1699999999.123456789),
        ("2023-11-14T22:13:19Z", 1699999999.0),
        ("2023-11-14 22:13:19.500", 1699999999.5),
    ],
)
def test_meta_time_forms(time, expected):
    event = lamia.task_created(
        "t",
        orjson.dumps({"processes": {"a": None}, "_meta": {"time": time}}),
        client_ip=None,
        now=NOW,
    )
    assert event.ts == pytest.approx(expected)
    assert event.received_at == NOW


def test_a_double_encoded_body_is_unwrapped():
    # Lamia's Python client posts requests' json=json.dumps(data): a JSON string of JSON.
    body = orjson.dumps(orjson.dumps({"processes": {"a": 3}}).decode())
    event = lamia.task_created("t", body, client_ip=None, now=NOW)
    assert event.attrs["processes"]["a"]["nJobs"] == 3


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "processes"),
        ({"processes": {}}, "processes"),
        ({"processes": []}, "processes"),
        ({"processes": "a"}, "processes"),
        ({"processes": {"a": -1}}, "processes.a"),
        ({"processes": {"a": True}}, "processes.a"),
        ({"processes": {"a": [10]}}, "processes.a"),
        ({"processes": {"a": [10, -1]}}, "processes.a[1]"),
        ({"processes": {"a": [10, 2.5]}}, "processes.a[1]"),
        ({"processes": [{"type": "array", "name": "a"}]}, "processes[0].nJobs"),
        ({"processes": [{"type": "queue", "name": "a"}]}, "processes[0].type"),
        ({"processes": [{"nJobs": 3}]}, "processes[0]"),
        ({"processes": [{"name": "a", "colour": 1}]}, "processes[0].colour"),
        ({"processes": [{"name": "a"}, {"name": "a"}]}, "processes[1].name"),
        ({"processes": {"a": {"nJobs": 2, "tolerance": 1}}}, "processes.a.tolerance"),
        ({"processes": {"a": {"threshold": -1}}}, "processes.a.threshold"),
        ({"processes": {"a/b": None}}, "processes.a/b"),
        ({"processes": {"@all": None}}, "processes.@all"),
        ({"processes": {"a[1]": None}}, "processes.a[1]"),
        ({"processes": {"a": None}, "colour": "red"}, "colour"),
        ({"processes": {"a": None}, "tags": "x"}, "tags"),
        ({"processes": {"a": None}, "tags": ["x", 3]}, "tags[1]"),
        ({"processes": {"a": None}, "_meta": {"time": "soon"}}, "_meta.time"),
        ({"processes": {"a": None}, "_meta": {"when": 1}}, "_meta.when"),
        ({"processes": {"a": None}, "name": 3}, "name"),
        ({"processes": {"a": None}, "hostname": 3}, "hostname"),
    ],
)
def test_bad_task_bodies_name_the_field(body, path):
    assert path in refused(lambda: created(body))


def test_bad_task_names():
    assert "path.task" in refused(lambda: created({"processes": {"a": None}}, task="@x"))
    assert "path.task" in refused(lambda: created({"processes": {"a": None}}, task="x" * 101))


def test_bodies_that_are_not_objects():
    with pytest.raises(MalformedBody):
        lamia.task_created("t", b"{nope", client_ip=None, now=NOW)
    assert "body" in refused(lambda: lamia.task_created("t", b"[1]", client_ip=None, now=NOW))
    assert "body" in refused(lambda: lamia.task_created("t", b"", client_ip=None, now=NOW))


def job(body: object, index: int | None = 3) -> list:
    return lamia.job_event("t", "arr", index, orjson.dumps(body), client_ip="10.0.0.2", now=NOW)


def test_a_job_event_is_a_lamia_event_and_a_task_status():
    event, status = job(
        {"eventClass": "STARTED", "payload": "p", "_meta": {"host": "wn12", "time": 1699999000}}
    )
    assert (event.kind, status.kind) == ("lamia.event", "task.status")
    assert event.attrs == {
        "task": "t",
        "proc": "arr",
        "index": 3,
        "class": "STARTED",
        "progress": None,
        "payload": "p",
        "host": "wn12",
        "sent_at": 1699999000.0,
        "client_ip": "10.0.0.2",
    }
    assert status.attrs == {
        "task": "t/arr[3]",
        "status": "running",
        "producer": "t",
        "agent": "wn12",
    }
    assert event.ts == status.ts == 1699999000.0
    assert event.subject == status.subject == "task:t/arr[3]"
    assert event.body == {
        "eventClass": "STARTED",
        "payload": "p",
        "_meta": {"host": "wn12", "time": 1699999000},
    }


@pytest.mark.parametrize(
    ("event_class", "host", "agent"),
    [
        ("STARTED", "wn12", "wn12"),
        ("DONE", "wn12", "wn12"),
        ("submitted", "wn12", None),  # sent by whoever submitted the job
        ("FAILED", "vm", None),  # the task's submit host does not run its jobs
        ("STARTED", None, None),
    ],
)
def test_a_jobs_agent_is_the_host_running_it(event_class, host, agent):
    meta = {"_meta": {"host": host}} if host else {}
    body = orjson.dumps({"eventClass": event_class, **meta})
    _, status = lamia.job_event("t", "arr", 3, body, client_ip=None, now=NOW, submit_host="vm")
    assert status.attrs["agent"] == agent


@pytest.mark.parametrize(
    ("task_id", "producer", "group"),
    [("g/arr[1]", "g", "g"), ("g/solo", "g", "g"), ("g-build", "g", None), ("x/y", None, None)],
)
def test_the_group_of_a_job(task_id, producer, group):
    assert lamia.group_of(task_id, producer) == group


@pytest.mark.parametrize(
    ("event_class", "status", "level"),
    [
        ("SUBMITTED", "queued", "info"),
        ("STARTED", "running", "info"),
        ("BEAT", "running", "info"),
        ("PROGRESS", "running", "info"),
        ("DONE", "finished", "info"),
        ("FAILED", "failed", "error"),
        ("TERMINATED", "aborted", "warning"),
        ("FINISHED", "finished", "info"),
        ("Checkpointed", "checkpointed", "info"),
    ],
)
def test_lifecycle_classes_map_onto_task_statuses(event_class, status, level):
    event, task_status = job({"eventClass": event_class}, index=None)
    assert event.attrs["class"] == event_class
    assert task_status.attrs["task"] == "t/arr"
    assert (task_status.attrs["status"], task_status.level) == (status, level)


@pytest.mark.parametrize(
    ("body", "progress"),
    [
        ({"eventClass": "PROGRESS", "progress": 42}, 42.0),
        ({"eventClass": "PROGRESS", "progress": 2.5}, 2.5),
        ({"eventClass": "PROGRESS", "progress": "50"}, 50.0),
        ({"eventClass": "PROGRESS", "progress": " 12.5 "}, 12.5),
        ({"eventClass": "PROGRESS", "progress": -5}, -5.0),
        # The payload is opaque, as in the original: only ``progress`` carries progress.
        ({"eventClass": "STARTED", "payload": '{"progress" : 90}'}, None),
        ({"eventClass": "PROGRESS", "payload": {"progress": 7, "x": 1}}, None),
        ({"eventClass": "PROGRESS", "payload": {"progress": "a lot"}}, None),
        ({"eventClass": "PROGRESS", "payload": "{not json"}, None),
        ({"eventClass": "PROGRESS", "progress": None, "payload": {"progress": 7}}, None),
        ({"eventClass": "BEAT"}, None),
    ],
)
def test_progress_comes_from_the_progress_field_only(body, progress):
    event, _ = job(body)
    assert event.attrs["progress"] == progress


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"eventClass": 3}, "eventClass"),
        ({"eventClass": "x" * 65}, "eventClass"),
        ({"eventClass": "PROGRESS", "progress": "fifty"}, "progress"),
        ({"eventClass": "PROGRESS", "progress": "nan"}, "progress"),
        ({"eventClass": "PROGRESS", "progress": True}, "progress"),
        ({"eventClass": "PROGRESS", "progress": [50]}, "progress"),
        ({"eventClass": "BEAT", "hostname": 7}, "hostname"),
        ({"eventClass": "BEAT", "colour": 2}, "colour"),
        ({"eventClass": "BEAT", "_meta": "host"}, "_meta"),
    ],
)
def test_bad_event_bodies_name_the_field(body, path):
    assert path in refused(lambda: job(body))


def test_an_event_without_a_class_says_the_job_is_running():
    for body in ({}, {"eventClass": ""}, {"hostname": "wn3", "payload": "x"}):
        event, status = job(body)
        assert (event.attrs["class"], status.attrs["status"]) == ("", "running")
    assert job({"hostname": "wn3"})[0].attrs["host"] == "wn3"
    assert job({"hostname": "wn3", "_meta": {"host": "wn4"}})[0].attrs["host"] == "wn4"


def test_array_index_parsing():
    assert lamia.parse_index(None) is None
    assert lamia.parse_index("7") == 7
    assert lamia.parse_index("-1") == -1
    assert "query.arrayIndex" in refused(lambda: lamia.parse_index("three"))


def test_job_ids():
    assert lamia.job_id("t", "solo", None) == "t/solo"
    assert lamia.job_id("t", "arr", 0) == "t/arr[0]"


# (nJobs, threshold amount, jobs needed, DONE jobs, jobs with a value, sum of values).
@pytest.mark.parametrize(
    ("args", "progress", "enough"),
    [
        ((4, None, None, 1, 0, 0.0), 25.0, False),
        ((4, None, None, 4, 0, 0.0), 100.0, True),
        ((None, None, None, 0, 0, 0.0), 0.0, False),
        ((None, None, None, 1, 0, 0.0), 100.0, True),
        ((4, None, None, 0, 3, 180.0), 45.0, False),
        ((None, None, None, 0, 1, 40.0), 40.0, False),
        ((None, None, None, 0, 1, 130.0), 130.0, False),
        ((10, None, 8, 2, 0, 0.0), 25.0, False),
        ((10, None, 8, 8, 0, 0.0), 100.0, True),
        ((10, None, 8, 9, 0, 0.0), 112.5, True),
        # [10, 8] with one job at 50 %: half of one of the 8 jobs, not 50 jobs (625 %).
        ((10, None, 8, 0, 1, 50.0), 6.25, False),
        ((10, None, 8, 8, 1, 50.0), 6.25, True),
        ((3, 1000, None, 3, 2, 550.0), 55.0, False),
        ((3, 1000, None, 0, 3, 1050.0), 105.0, True),
        ((0, None, None, 1, 0, 0.0), 100.0, True),
    ],
)
def test_progress_table(args, progress, enough):
    assert progress_of(*args) == progress
    assert enough_of(*args) is enough
