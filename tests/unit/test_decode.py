"""Translation of request bodies into events: shapes, formats and every refusal."""

from __future__ import annotations

import orjson
import pytest

from tests.fleet import incident, ping, task
from watchkeeper.events import InvalidBatch
from watchkeeper.events.decode import MalformedBody, decode_events
from watchkeeper.events.timefmt import iso, parse_time


def decode(obj, content_type="application/json"):
    return decode_events(orjson.dumps(obj), content_type)


def test_seed000_task_status_is_recognised_and_kept_verbatim():
    item = task(42, "2024-01-02 03:04:05.678", "Created", producer=0, agent=777, extra="kept")
    (event,) = decode(item)
    assert event.kind == "task.status"
    assert event.attrs == {"task": "42", "status": "created", "producer": "0", "agent": "777"}
    assert event.body == item
    assert iso(event.ts) == "2024-01-02T03:04:05.678Z"


def test_seed000_ping_keeps_the_curent_loc_spelling():
    (event,) = decode(ping(777, "2024-01-02 03:04:05.12", "idle", "waiting", "L-1"))
    assert event.kind == "component.state"
    assert event.attrs["loc"] == "L-1"
    assert event.source == "agent:777"
    assert iso(event.ts) == "2024-01-02T03:04:05.120Z"


def test_seed000_incident_is_recognised_by_its_context():
    (event,) = decode(incident(777, "2024-01-02 03:04:05.12", 42))
    assert event.kind == "incident"
    assert event.attrs["task"] == "42"
    assert event.attrs["subtask"] == 1 and event.attrs["subtasks_left"] == 2
    assert event.attrs["pings"] == {"idle": 0, "recover": 0, "await_path": 5}
    assert event.attrs["current_loc"] == "location-code"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02 03:04:05.678", "2024-01-02T03:04:05.678Z"),
        ("2024-01-02 03:04:05.67", "2024-01-02T03:04:05.670Z"),
        ("2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05.000Z"),
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"),
        (1704164645.5, "2024-01-02T03:04:05.500Z"),
    ],
)
def test_times(text, expected):
    assert iso(parse_time(text)) == expected


def test_ndjson_and_arrays_give_the_same_events():
    items = [
        task(1, "2024-01-01 00:00:00.000", "created"),
        ping(7, "2024-01-01 00:00:01.00", "idle"),
    ]
    ndjson = b"\n".join(orjson.dumps(i) for i in items) + b"\n\n"
    as_array = decode(items)
    as_lines = decode_events(ndjson, "application/x-ndjson")
    assert [(e.kind, e.attrs) for e in as_array] == [(e.kind, e.attrs) for e in as_lines]


def test_generic_kinds():
    events = decode(
        [
            {"kind": "task.status", "task": "t-1", "status": "running", "agent": "a"},
            {"kind": "component.state", "type": "lift", "id": "L1", "state": "up"},
            {"kind": "deploy.finished", "anything": [1, 2]},
        ]
    )
    assert events[0].attrs["task"] == "t-1"
    assert events[1].source == "lift:L1"
    assert events[2].attrs == {} and events[2].body["anything"] == [1, 2]


def issues_of(obj, content_type="application/json"):
    with pytest.raises(InvalidBatch) as info:
        decode_events(orjson.dumps(obj) if not isinstance(obj, bytes) else obj, content_type)
    return [(i.path, i.reason) for i in info.value.issues]


def test_every_bad_item_is_reported_with_its_index_and_path():
    issues = issues_of(
        [
            task(1, "2024-01-01 00:00:00.000", "created"),
            {"id_task": 2, "datetime": "yesterday", "status": "created"},
            {"id_agent": 7, "state": 5},
            {
                "id_agent": 7,
                "last_state": "x",
                "task": {"id_current_task": 1, "current_subtask": "a"},
            },
            {"hello": "world"},
            "not an object",
            {"id_task": 3, "status": "created", "level": "loud"},
        ]
    )
    paths = [p for p, _ in issues]
    assert paths == [
        "[1].datetime",
        "[2].state",
        "[3].task.current_subtask",
        "[4]",
        "[5]",
        "[6].level",
    ]
    assert "invalid time" in issues[0][1]


def test_missing_required_fields():
    assert issues_of({"id_task": 1}) == [("status", "field required")]
    assert issues_of({"kind": "task.status", "status": "x"}) == [("task", "field required")]
    assert issues_of({"kind": "bad kind!"})[0][0] == "kind"
    assert issues_of({"id_agent": 1, "pings": {"idle": -1}})[0][0] == "pings.idle"


def test_bad_event_id_and_empty_bodies():
    assert issues_of({"id_task": 1, "status": "x", "event_id": ""})[0][0] == "event_id"
    assert issues_of([]) == [("$", "no events in the body")]
    assert issues_of(b"\n\n", "application/x-ndjson") == [("$", "no events in the body")]


def test_malformed_json_and_ndjson_lines():
    with pytest.raises(MalformedBody):
        decode_events(b"{nope", "application/json")
    with pytest.raises(MalformedBody) as info:
        decode_events(b'{"id_task":1,"status":"x"}\n{broken\n', "application/x-ndjson")
    assert info.value.path == "line 2"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "expected an integer or a string identifier"),
        (1.5, "expected an integer or a string identifier"),
        ("", "identifier must be 1 to 200 characters"),
        ("x" * 201, "identifier must be 1 to 200 characters"),
    ],
)
def test_bad_identifiers(value, reason):
    assert issues_of({"id_task": value, "status": "created"}) == [("id_task", reason)]


@pytest.mark.parametrize(
    ("sent", "level"),
    [
        ("info", "info"),
        ("WARNING", "warning"),
        ("WARN", "warning"),
        (" Warn ", "warning"),
        ("fatal", "critical"),
        (40, "error"),
    ],
)
def test_levels_are_normalised(sent, level):
    (event,) = decode(task(1, "2024-01-01 00:00:00.000", "created", level=sent))
    assert event.level == level


def nest(depth: int, inner: object = 1) -> object:
    """``inner`` inside ``depth`` levels of alternating arrays and objects."""
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_up_to_the_limit_is_accepted_and_one_level_more_is_refused():
    from watchkeeper.events.decode import MAX_DEPTH

    # The event object is level 1, so its field may hold MAX_DEPTH - 1 levels.
    (event,) = decode({"kind": "x", "a": nest(MAX_DEPTH - 1)})
    assert event.body["a"] == nest(MAX_DEPTH - 1)
    with pytest.raises(InvalidBatch) as caught:
        decode([{"kind": "x"}, {"kind": "x", "a": nest(MAX_DEPTH)}])
    (issue,) = caught.value.issues
    # The path leads to the first container past the limit: 'a', then MAX_DEPTH - 1 keys.
    assert issue.path.startswith("[1].a")
    assert issue.path.count("[0]") + issue.path.count(".k") == MAX_DEPTH - 1
    assert issue.reason == f"nested deeper than {MAX_DEPTH} levels"


def test_wide_bodies_with_many_brackets_are_not_deep():
    items = [{"kind": "x", "a": [[1], {"b": [2]}]} for _ in range(500)]
    assert len(decode(items)) == 500
