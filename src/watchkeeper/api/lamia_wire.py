"""What ``/api/v0`` answers, in the original Lamia server's keys and JSON types.

The task-groups view describes tasks, processes and events in Lamia's field names; this adds
what the original's marshmallow schemas dumped beside them, so a client that read the original
finds every key it read, with the same JSON type:

* a process: ``task`` (its task's name), ``kin`` (1 solitary, 3 array) and
  ``_links.events``;
* a task: ``_links.self`` and ``_links.collection``;
* an event: ``recievedAt`` (the original's spelling, beside ``receivedAt``), ``progress``
  0 for an event without one (the original's column default), ``eventClass`` null for an
  event sent without one;
* timestamps as the original's ``DateTime`` columns dumped them: naive ISO 8601 in UTC with
  microseconds (``2023-11-14T22:13:20.500000``), which every ISO parser reads.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

PREFIX = "/api/v0"
#: The original's ``kin`` column: its polymorphic identity of a solitary job and of an array.
KIN_SOLITARY = 1
KIN_ARRAY = 3

_TASK_TIMES = ("submittedAt", "createdAt", "updatedAt")
_EVENT_TIMES = ("sentAt", "receivedAt")

#: Keys this module adds, which ``fields=`` may name too.
TASK_KEYS = ("_links",)
PROCESS_KEYS = ("task", "kin", "_links")
EVENT_KEYS = ("recievedAt",)


def merged_slashes(path: str) -> str:
    """``/api/v0//T/p`` as ``/api/v0/T/p``. Lamia's client joins its default API path
    ``/api/v0/`` and ``/<task>`` into ``/api/v0//<task>/...``; the original's Flask merged
    repeated slashes (redirecting to the merged path), so those jobs reached it."""
    if "//" not in path or not path.startswith(PREFIX + "/"):
        return path
    return re.sub("//+", "/", path)


def naive(value: str | None) -> str | None:
    """An ISO 8601 UTC timestamp as the original wrote it: no zone, microseconds. A time no
    date can show comes as its raw number (see ``timefmt.iso``) and stays so."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.replace(tzinfo=None).isoformat(timespec="microseconds")


def _path(*parts: str) -> str:
    return "/".join([PREFIX, *(quote(p, safe="@") for p in parts)])


def _number(value: float | None) -> float | int | None:
    """A whole number as an integer (the original's progress was one), a fraction as it is."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def process(item: dict[str, Any]) -> dict[str, Any]:
    solitary = item["type"] == "solitary"
    return {
        **item,
        "lastEventAt": naive(item["lastEventAt"]),
        "lastEventClass": item["lastEventClass"] or None,
        "progress": _number(item["progress"]),
        "task": item["taskID"],
        "kin": KIN_SOLITARY if solitary else KIN_ARRAY,
        "_links": {"events": _path(item["taskID"], item["name"], "event")},
    }


def task(item: dict[str, Any]) -> dict[str, Any]:
    out = {**item, **{k: naive(item[k]) for k in _TASK_TIMES}}
    out["progress"] = _number(item["progress"])
    out["processes"] = [process(p) for p in item["processes"]]
    out["_links"] = {"self": _path(item["name"]), "collection": PREFIX}
    return out


def event(item: dict[str, Any]) -> dict[str, Any]:
    out = {**item, **{k: naive(item[k]) for k in _EVENT_TIMES}}
    out["recievedAt"] = out["receivedAt"]
    # Stored as "" (the view's class is never null); the original kept what was sent: none.
    out["eventClass"] = item["eventClass"] or None
    if out["progress"] is None:
        out["progress"] = 0
    return out
