"""What ``/api/v0`` answers, in the original Lamia server's keys and JSON types.

The task-groups view's rows become tasks, processes and events in Lamia's field names
(:func:`task_v0`, :func:`process_v0`, :func:`event_v0`, which the dashboard shows too); then
:func:`task`, :func:`process` and :func:`event` add what the original's marshmallow schemas
dumped beside them, so a client that read the original finds every key it read, with the same
JSON type:

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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from starlette.datastructures import QueryParams

from watchkeeper.api.lamia_errors import LamiaError
from watchkeeper.events.fields import int_from_text
from watchkeeper.events.timefmt import iso
from watchkeeper.views.base import loads
from watchkeeper.views.groups import queries
from watchkeeper.views.groups.progress import activity, amount, overall, rounded
from watchkeeper.views.groups.tables import index_out, lamia_events, lamia_groups

PREFIX = "/api/v0"
#: The most entries one list answers (and what it answers without a ``limit``); ``total``
#: counts them all and ``offset`` pages through them.
MAX_ENTRIES = 10_000
#: The original's ``kin`` column: its polymorphic identity of a solitary job and of an array.
KIN_SOLITARY = 1
KIN_ARRAY = 3

_TASK_TIMES = ("submittedAt", "createdAt", "updatedAt")
_EVENT_TIMES = ("sentAt", "receivedAt")

#: Task fields ``GET /api/v0?order=`` may sort by.
TASK_ORDER: dict[str, sa.ColumnElement[Any]] = {
    "name": lamia_groups.c.name,
    "submittedAt": lamia_groups.c.submitted_at,
    "createdAt": lamia_groups.c.created_at,
    "updatedAt": queries.UPDATED_AT,
    "username": lamia_groups.c.username,
    # The original's other task columns: it ordered by any of them.
    "comment": lamia_groups.c.comment,
    "emailNotify": lamia_groups.c.email_notify,
    "hostname": lamia_groups.c.host,
    "submHostIP": lamia_groups.c.client_ip,
    "config": lamia_groups.c.config,
    "depGraph": lamia_groups.c.dep_graph,
}
#: Event fields ``GET /api/v0/<task>/<proc>/event?order=`` may sort by.
EVENT_ORDER: dict[str, sa.ColumnElement[Any]] = {
    "id": lamia_events.c.id,
    "sentAt": lamia_events.c.sent_at,
    "receivedAt": lamia_events.c.received_at,
    "eventClass": lamia_events.c.event_class,
    "procNumInArray": lamia_events.c.idx,
    # The original's other event columns, with its spelling of "received".
    "recievedAt": lamia_events.c.received_at,
    "payload": lamia_events.c.payload,
    "progress": lamia_events.c.progress,
    "hostname": lamia_events.c.host,
    "clientIP": lamia_events.c.client_ip,
    "procID": lamia_events.c.proc,
    "taskID": lamia_events.c.task,
}
TASK_FIELDS = (
    "name",
    "username",
    "comment",
    "tags",
    "config",
    "emailNotify",
    "depGraph",
    "taskClass",
    "submittedAt",
    "createdAt",
    "updatedAt",
    "hostname",
    "submHostIP",
    "nEvents",
    "progress",
    "enough",
    "processes",
)
EVENT_FIELDS = (
    "id",
    "taskID",
    "procID",
    "procNumInArray",
    "eventClass",
    "payload",
    "progress",
    "sentAt",
    "receivedAt",
    "hostname",
    "clientIP",
)
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


# --- the view's rows in Lamia's field names --------------------------------------------------


def process_v0(row: Any, stale: int) -> dict[str, Any]:
    """A process as ``GET /api/v0/<task>/<proc>`` shows it (Lamia's field names)."""
    return {
        "name": row.name,
        "taskID": row.task,
        "type": "solitary" if row.n_jobs is None else "array",
        "nJobs": row.n_jobs,
        "fTolerance": row.tolerance,
        "thresholdProgress": amount(row.threshold),
        "lastEventClass": row.last_class,
        "lastEventAt": iso(row.last_event_at),
        "nEvents": row.events,
        "doneJobs": row.done_jobs,
        "staleJobs": stale,
        "progress": rounded(row.progress),
        "enough": bool(row.enough),
    }


def task_v0(row: Any, procs: Sequence[Any], stale: dict[tuple[str, str], int]) -> dict[str, Any]:
    progress, enough = overall(procs)
    updated, events = activity(row, procs)
    return {
        "name": row.name,
        "username": row.username,
        "comment": row.comment,
        "tags": loads(row.tags) or [],
        "config": loads(row.config),
        "emailNotify": loads(row.email_notify),
        "depGraph": row.dep_graph,
        "taskClass": row.task_class,
        "submittedAt": iso(row.submitted_at),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(updated),
        "hostname": row.host,
        "submHostIP": row.client_ip,
        "nEvents": events,
        "progress": progress,
        "enough": enough,
        "processes": [process_v0(p, stale.get((p.task, p.name), 0)) for p in procs],
    }


def event_v0(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "taskID": row.task,
        "procID": row.proc,
        "procNumInArray": index_out(row.idx),
        "eventClass": row.event_class,
        "payload": loads(row.payload),
        "progress": amount(row.progress),
        "sentAt": iso(row.sent_at),
        "receivedAt": iso(row.received_at),
        "hostname": row.host,
        "clientIP": row.client_ip,
    }


def get_task(
    conn: sa.Connection, name: str, *, now: float, stale_after: float
) -> dict[str, Any] | None:
    row = queries.task_row(conn, name)
    if row is None:
        return None
    procs = queries.processes_of(conn, [name])[name]
    return task_v0(row, procs, queries.stale_counts(conn, [name], now - stale_after))


def tasks_v0(
    conn: sa.Connection, rows: Sequence[Any], *, now: float, stale_after: float
) -> list[dict[str, Any]]:
    names = [r.name for r in rows]
    procs = queries.processes_of(conn, names)
    stale = queries.stale_counts(conn, names, now - stale_after)
    return [task_v0(r, procs[r.name], stale) for r in rows]


def get_process(
    conn: sa.Connection, task: str, proc: str, *, now: float, stale_after: float
) -> dict[str, Any] | None:
    row = queries.process_row(conn, task, proc)
    if row is None:
        return None
    stale = queries.stale_counts(conn, [task], now - stale_after)
    return process_v0(row, stale.get((task, proc), 0))


def processes_with_class(
    conn: sa.Connection, task: str, event_class: str | None, *, now: float, stale_after: float
) -> list[dict[str, Any]]:
    """The processes of ``task`` (only those with an event of ``event_class``, if given)."""
    rows = queries.processes_with_class(conn, task, event_class)
    stale = queries.stale_counts(conn, [task], now - stale_after)
    return [process_v0(r, stale.get((task, r.name), 0)) for r in rows]


# --- query parameters, read as the original's query schemas read them ------------------------


def multi(query: QueryParams, name: str) -> list[str]:
    """A list parameter, repeated (``tag=a&tag=b``) or comma-separated (``tags=a,b``)."""
    return [part.strip() for value in query.getlist(name) for part in value.split(",") if part]


def _count(query: QueryParams, name: str) -> int | None:
    """An integer parameter; a negative one counts as absent, as SQLite read the original's
    ``LIMIT -1`` (no limit) and a negative ``OFFSET`` (none)."""
    value = query.get(name)
    if value is None or value == "":
        return None
    number = int_from_text(value)
    if number is None:
        raise LamiaError(400, f"`{name}' must be an integer.", param=name)
    return number if number >= 0 else None


def offset(query: QueryParams) -> int:
    return _count(query, "offset") or 0


def page_size(query: QueryParams) -> int:
    """``limit``, at most :data:`MAX_ENTRIES` (the default, also for a negative one)."""
    limit = _count(query, "limit")
    if limit is None:
        return MAX_ENTRIES
    if limit > MAX_ENTRIES:
        raise LamiaError(422, f"Must be at most {MAX_ENTRIES}.", param="limit")
    return limit


def array_index(query: QueryParams) -> int | None:
    """``arrayIndex`` of an event query (a POST's is read with its body)."""
    value = query.get("arrayIndex")
    if value is None:
        return None
    index = int_from_text(value)
    if index is None:
        raise LamiaError(400, "Not a valid integer.", param="arrayIndex")
    return index


def fields(query: QueryParams, allowed: Sequence[str]) -> list[str]:
    names = multi(query, "fields")
    unknown = [f for f in names if f not in allowed]
    if unknown:
        raise LamiaError(400, f"Unknown field: {', '.join(unknown)}.", param="fields")
    return names


def ordering(query: QueryParams, allowed: Mapping[str, Any]) -> tuple[str | None, bool]:
    """``order`` and ``sort``; as in Lamia, an order without a sort is descending."""
    order = query.get("order") or None
    if order is not None and order not in allowed:
        raise LamiaError(400, f"Unknown field: {order}.", param="order")
    sort = query.get("sort")
    if sort is None:
        return order, order is not None
    if sort not in ("asc", "desc"):
        raise LamiaError(400, "Must be one of: asc, desc.", param="sort")
    return order, sort == "desc"


def select(entries: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    return [{f: e[f] for f in names} for e in entries] if names else entries
