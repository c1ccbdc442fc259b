"""A Lamia session: the requests a Lamia deployment sends, replayable against any server, and
the *shape* of an answer (its keys and their JSON types) to compare one server's answers with
another's.

``tests/lamia_record.py`` replays :data:`SESSION` against the original Lamia server and writes
what it answered to ``tests/fixtures/lamia_session.json``;
``tests/integration/test_lamia_recorded.py`` replays it against watchkeeper and compares.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: The walk-through's dependency graph is long; any string stands for it.
DEP_GRAPH = "QlpoOTFBWSZTWU/lCzkAFIp////be/r6///L///+J///3+ZhbC8EoJQSAgAsCACQgAkI4Abv"


def meta(time_value: Any = 1700000000.123456, host: str = "submit01") -> dict[str, Any]:
    return {"host": host, "time": time_value}


def event(event_class: str | None = "STARTED", **fields: Any) -> dict[str, Any]:
    """A job event as the walk-through sends it (``_meta.time`` a quoted epoch)."""
    body = {"payload": "arbitrary data here", "_meta": meta("1700000100.5", "wn07"), **fields}
    if event_class is not None:
        body["eventClass"] = event_class
    return body


WALK_THROUGH_TASK = {
    "_meta": meta(),
    "depGraph": DEP_GRAPH,
    "tags": ["testing", "one", "two"],
    "config": "some cfg here",
    "processes": {"tstArray1": 10, "tstArray2": [10, 8], "someJob1": None},
}

#: ``(label, method, path, body)``. A ``str`` body is sent as it is (labelled JSON). In a path,
#: ``{first_id}`` is the ``id`` of the first entry of the latest list answered.
SESSION: list[tuple[str, str, str, Any]] = [
    # Lamia's Python client probes the name first (set_task_name): 404 means it is free.
    ("probe", "GET", "/api/v0/T", None),
    # tests/curl_post_monit.sh, step by step.
    ("create", "POST", "/api/v0/T", WALK_THROUGH_TASK),
    ("create again", "POST", "/api/v0/T", {"processes": {"x": None}}),
    ("task", "GET", "/api/v0/T", None),
    ("by tag none", "GET", "/api/v0?tag=three", None),
    ("by tag", "GET", "/api/v0?tag=testing&tag=two", None),
    ("by tags", "GET", "/api/v0?tags=testing,two", None),
    ("array", "GET", "/api/v0/T/tstArray2?asArray=true", None),
    ("solitary", "GET", "/api/v0/T/someJob1", None),
    ("started", "POST", "/api/v0/T/tstArray2/event?arrayIndex=3", event()),
    (
        "payload progress",
        "POST",
        "/api/v0/T/tstArray2/event?arrayIndex=3",
        event(payload='{"progress" : 90}'),
    ),
    ("solitary started", "POST", "/api/v0/T/someJob1/event", event()),
    ("solitary finished", "POST", "/api/v0/T/someJob1/event", event("FINISHED")),
    ("all started", "GET", "/api/v0/T/@all?hasEventsOfClass=STARTED", None),
    ("job events", "GET", "/api/v0/T/tstArray2/event?arrayIndex=3", None),
    ("one event", "GET", "/api/v0/T/tstArray2/event/{first_id}", None),
    ("solitary events", "GET", "/api/v0/T/someJob1/event", None),
    # Bodies the original took.
    ("string progress", "POST", "/api/v0/T/tstArray1/event?arrayIndex=1", event(progress="50")),
    ("negative progress", "POST", "/api/v0/T/tstArray1/event?arrayIndex=2", event(progress=-5)),
    ("no class", "POST", "/api/v0/T/tstArray1/event?arrayIndex=4", event(None)),
    (
        "event hostname",
        "POST",
        "/api/v0/T/tstArray1/event?arrayIndex=5",
        {"eventClass": "BEAT", "hostname": "wn05"},
    ),
    ("index n", "POST", "/api/v0/T/tstArray1/event?arrayIndex=10", event("DONE", progress=100)),
    ("array progress", "GET", "/api/v0/T/tstArray1", None),
    ("array events", "GET", "/api/v0/T/tstArray1/event", None),
    (
        "list form",
        "POST",
        "/api/v0/L",
        {
            "processes": [
                {"type": "array", "name": "entries", "nJobs": 3, "thresholdProgress": 1000},
                {"type": "solitary", "name": "merge"},
            ],
            "hostname": "submit02",
            "_meta": meta(1700000200),
        },
    ),
    ("list form array", "GET", "/api/v0/L/entries", None),
    ("list form task", "GET", "/api/v0/L", None),
    ("amount", "POST", "/api/v0/L/entries/event?arrayIndex=0", event("PROGRESS", progress=250)),
    ("amount progress", "GET", "/api/v0/L/entries", None),
    (
        "odd shapes",
        "POST",
        "/api/v0/Odd",
        {"processes": {"over": [10, 12], "empty": 0}, "name": "Other", "_meta": meta()},
    ),
    ("odd task", "GET", "/api/v0/Odd", None),
    ("odd other", "GET", "/api/v0/Other", None),
    ("epoch string", "POST", "/api/v0/Str", {"processes": {"a": None}, "_meta": meta("1.7e9")}),
    # The original's column names in queries.
    ("order comment", "GET", "/api/v0?order=comment", None),
    ("fields", "GET", "/api/v0?order=submittedAt&sort=asc&fields=name,tags", None),
    ("page", "GET", "/api/v0?offset=1&limit=2", None),
    ("event order", "GET", "/api/v0/T/tstArray2/event?order=recievedAt", None),
    ("event fields", "GET", "/api/v0/T/tstArray2/event?fields=id,recievedAt", None),
    ("event filter", "GET", "/api/v0/T/tstArray1/event?eventClass=DONE&hostname=wn07", None),
    # Numbers as strings (marshmallow's Integer took them), every column of the models.
    (
        "string numbers",
        "POST",
        "/api/v0/N",
        {
            "processes": [
                {"type": "array", "name": "a", "nJobs": "3", "thresholdProgress": "100"},
                {"type": "array", "name": "b", "nJobs": 4, "fTolerance": "2"},
            ]
        },
    ),
    ("string pair", "POST", "/api/v0/N2", {"processes": {"a": ["4", "2"]}}),
    ("string numbers task", "GET", "/api/v0/N", None),
    ("string pair task", "GET", "/api/v0/N2", None),
    (
        "task columns",
        "POST",
        "/api/v0/C",
        {
            "processes": {"solo": None},
            "username": "crank",
            "emailNotify": "crank@example.org",
            "comment": "every column",
            "submittedAt": "2023-11-14T22:13:20",
            "submHostIP": "10.0.0.1",
            "hostname": "submit03",
            "depGraph": DEP_GRAPH,
            "config": "cfg",
            "tags": [],
        },
    ),
    (
        "event columns",
        "POST",
        "/api/v0/C/solo/event",
        {
            "eventClass": "DONE",
            "payload": "p",
            "progress": 7,
            "sentAt": "2023-11-14T22:15:00",
            "recievedAt": "2023-11-14T22:15:01",
            "hostname": "wn09",
            "clientIP": "10.0.0.9",
            "procNumInArray": None,
            "procID": "solo",
            "taskID": "C",
        },
    ),
    ("columns task", "GET", "/api/v0/C", None),
    ("columns events", "GET", "/api/v0/C/solo/event", None),
    ("iso meta time", "POST", "/api/v0/C/solo/event", event(_meta=meta("2023-11-14T22:15:00"))),
    ("fraction progress", "POST", "/api/v0/C/solo/event", event(progress=12.5)),
    ("fields processes", "GET", "/api/v0?fields=name,processes&order=name&sort=asc", None),
    ("events paged", "GET", "/api/v0/T/tstArray1/event?order=id&sort=desc&limit=2&offset=1", None),
    ("limit zero", "GET", "/api/v0?limit=0", None),
    ("limit minus one", "GET", "/api/v0?limit=-1", None),
    ("offset minus one", "GET", "/api/v0?offset=-1", None),
    ("limit big", "GET", "/api/v0?limit=20000", None),
    ("all processes", "GET", "/api/v0/T/@all", None),
    ("named in body", "POST", "/api/v0", {"name": "B", "processes": {"a": 2}}),
    ("named in body task", "GET", "/api/v0/B", None),
    ("bare event", "POST", "/api/v0/B/a/event?arrayIndex=1", {"eventClass": "DONE"}),
    ("events of a solitary as array", "GET", "/api/v0/C/solo/event?arrayIndex=0", None),
    # Refusals.
    ("bad fields", "GET", "/api/v0?fields=bogus", None),
    ("bad order", "GET", "/api/v0?order=bogus", None),
    ("bad index query", "GET", "/api/v0/T/tstArray1/event?arrayIndex=x", None),
    ("bad index", "POST", "/api/v0/T/tstArray1/event?arrayIndex=x", event()),
    ("username number", "POST", "/api/v0/U", {"processes": {"a": None}, "username": 5}),
    ("config object", "POST", "/api/v0/U", {"processes": {"a": None}, "config": {"a": 1}}),
    ("progress word", "POST", "/api/v0/C/solo/event", event(progress="half")),
    ("bad sort", "GET", "/api/v0?sort=up", None),
    ("bad limit", "GET", "/api/v0?limit=x", None),
    ("bad event sort", "GET", "/api/v0/T/tstArray2/event?sort=up", None),
    ("no processes", "POST", "/api/v0/E", {"processes": {}}),
    ("unknown field", "POST", "/api/v0/U", {"processes": {"a": None}, "colour": "red"}),
    ("bad tags", "POST", "/api/v0/U", {"processes": {"a": None}, "tags": "x"}),
    ("not json", "POST", "/api/v0/U", "{processes"),
    ("no array", "POST", "/api/v0/T/nothing/event?arrayIndex=1", event()),
    ("out of range", "POST", "/api/v0/T/tstArray1/event?arrayIndex=11", event()),
    ("negative index", "POST", "/api/v0/T/tstArray1/event?arrayIndex=-1", event()),
    ("array without index", "POST", "/api/v0/T/tstArray1/event", event()),
    ("solitary with index", "POST", "/api/v0/T/someJob1/event?arrayIndex=1", event()),
    ("missing process event", "POST", "/api/v0/T/nothing/event", event()),
    ("missing task event", "POST", "/api/v0/nothing/p/event", event()),
    ("bad event field", "POST", "/api/v0/T/someJob1/event", {"eventClass": 5}),
    ("missing process", "GET", "/api/v0/T/nothing", None),
    ("missing process events", "GET", "/api/v0/T/nothing/event", None),
    ("missing event", "GET", "/api/v0/T/tstArray2/event/999999", None),
    ("delete all", "DELETE", "/api/v0", None),
    ("delete", "DELETE", "/api/v0/T", None),
    ("deleted", "GET", "/api/v0/T", None),
    ("deleted process", "GET", "/api/v0/T/tstArray1", None),
    ("delete missing", "DELETE", "/api/v0/T", None),
]

#: ``send(method, path, body) -> (status, answer)``; the answer is the parsed JSON, or the
#: text when it is none.
Send = Callable[[str, str, Any], tuple[int, Any]]


def replay(send: Send) -> list[dict[str, Any]]:
    """Send :data:`SESSION` in order: each request with its status and answer."""
    first_id: Any = None
    records = []
    for label, method, template, body in SESSION:
        path = template.replace("{first_id}", str(first_id))
        status, answer = send(method, path, body)
        entries = answer.get("entries") if isinstance(answer, dict) else None
        if entries and isinstance(entries[0], dict) and "id" in entries[0]:
            first_id = entries[0]["id"]
        records.append({"label": label, "method": method, "path": path, "body": body,
                        "status": status, "answer": answer})  # fmt: skip
    return records


def encode(body: Any) -> bytes | None:
    if body is None:
        return None
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


# --- shapes ------------------------------------------------------------------------------


def kind(value: Any) -> str:
    """The JSON type of a value, integers told apart from other numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def group(item: Any) -> str:
    """Items of a list are compared within their kind: a process by its ``type``."""
    if isinstance(item, dict) and isinstance(item.get("type"), str):
        return f"type={item['type']}"
    return "*"


def shape(value: Any) -> dict[str, Any]:
    """The keys and JSON types of a value, merged over the items of a list."""
    out: dict[str, Any] = {"kinds": [kind(value)]}
    if isinstance(value, dict):
        out["keys"] = {key: shape(item) for key, item in value.items()}
    elif isinstance(value, list):
        items: dict[str, Any] = {}
        for item in value:
            name = group(item)
            items[name] = merge(items[name], shape(item)) if name in items else shape(item)
        out["items"] = items
    return out


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What two answers share: their kinds together, the keys both have."""
    out: dict[str, Any] = {"kinds": sorted(set(a["kinds"]) | set(b["kinds"]))}
    if "keys" in a or "keys" in b:
        ka, kb = a.get("keys", {}), b.get("keys", {})
        out["keys"] = {key: merge(ka[key], kb[key]) for key in ka if key in kb}
    if "items" in a or "items" in b:
        ia, ib = a.get("items", {}), b.get("items", {})
        out["items"] = {
            k: merge(ia[k], ib[k]) if k in ia and k in ib else ia.get(k) or ib[k]
            for k in {*ia, *ib}
        }
    return out


def differences(value: Any, expected: dict[str, Any], where: str = "") -> list[str]:
    """Where ``value`` lacks a key of ``expected`` or has another JSON type for it.

    A whole number may be written where the original wrote a fraction; a key the original
    wrote as ``null`` may hold a value (the original had none to give)."""
    kinds = set(expected["kinds"])
    mine = kind(value)
    if kinds == {"null"}:
        return []
    if not (mine in kinds or (mine == "integer" and "number" in kinds)):
        return [f"{where or '.'}: {mine}, the original wrote {'/'.join(sorted(kinds))}"]
    found = []
    if isinstance(value, dict):
        for key, sub in expected.get("keys", {}).items():
            if key not in value:
                found.append(f"{where}.{key}: missing")
            else:
                found += differences(value[key], sub, f"{where}.{key}")
    elif isinstance(value, list):
        items = expected.get("items", {})
        for i, item in enumerate(value):
            sub = items.get(group(item)) or items.get("*")
            if sub is not None:
                found += differences(item, sub, f"{where}[{i}]")
    return found
