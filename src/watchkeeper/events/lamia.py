"""Lamia's v0 monitoring requests (seed 003), translated into events.

(Longer than most modules on purpose: every request of the v0 wire format becomes events here
and nowhere else, so the whole translation is read in one place.)

A Lamia *task* is a named set of *processes*: solitary jobs, or arrays of ``nJobs`` jobs. Jobs
report their lifecycle by posting events (``eventClass`` is free text; ``SUBMITTED``,
``STARTED``, ``BEAT``, ``PROGRESS``, ``DONE``, ``FAILED`` and ``TERMINATED`` have a meaning).
Each request becomes events here, and nowhere else:

* ``lamia.task.created``: ``task``, ``processes`` (``{name: {"nJobs",
  "thresholdProgress", "tolerance"}}``: ``nJobs`` is ``None`` for a solitary job,
  ``thresholdProgress`` an amount, ``tolerance`` the jobs that must be ``DONE``; see
  :func:`shape_of` for creates stored before), ``tags``, ``username``,
  ``comment``, ``config``, ``emailNotify``, ``depGraph``, ``taskClass``, ``host``, ``sent_at``,
  ``client_ip``
* ``lamia.task.deleted``: ``task``, ``client_ip``
* ``lamia.event``: ``task``, ``proc``, ``index`` (``None`` for a solitary job), ``class``
  (``""`` when the job sent none),
  ``progress``, ``payload``, ``host``, ``sent_at``, ``client_ip``; it always travels with a
  ``task.status`` event for the job, so every job is also a watchkeeper task with the id
  ``<task>/<proc>`` or ``<task>/<proc>[<index>]``, produced by ``<task>``, whose agent is the
  host running it (see :func:`executing_host`).

Everything a view needs is in ``attrs`` (a rebuild replays attrs, not bodies); the body keeps
the request verbatim.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

import orjson

from watchkeeper.events import kinds
from watchkeeper.events.decode import MalformedBody, check_depth
from watchkeeper.events.fields import NUL, NUL_REASON, Fields, int_from_text
from watchkeeper.events.model import Event, InvalidBatch, Issue
from watchkeeper.events.timefmt import parse_time

TASK_CREATED = "lamia.task.created"
TASK_DELETED = "lamia.task.deleted"
JOB_EVENT = "lamia.event"

#: Name limits chosen so that ``<task>/<proc>[<index>]`` fits a watchkeeper task id (200).
MAX_TASK_NAME = 100
MAX_PROC_NAME = 80
MAX_JOBS = 1_000_000

#: Lamia's lifecycle classes and the watchkeeper task status each one means.
STATUS = {
    "SUBMITTED": "queued",
    "STARTED": "running",
    "BEAT": "running",
    "PROGRESS": "running",
    "DONE": "finished",
    "FAILED": "failed",
    "TERMINATED": "aborted",
}
_LEVELS = {"FAILED": "error", "TERMINATED": "warning"}

_TASK_FIELDS = frozenset(
    {
        "processes",
        "tags",
        "username",
        "comment",
        "config",
        "emailNotify",
        "depGraph",
        "taskClass",
        "typeLabel",
        "name",
        "hostname",
        "_meta",
        # Columns of the original's task model its schema loaded too; they are filled in here.
        "submittedAt",
        "submHostIP",
    }
)
_EVENT_FIELDS = frozenset(
    {
        "eventClass",
        "payload",
        "progress",
        "hostname",
        "_meta",
        # Columns of the original's event model; the server fills them in itself.
        "id",
        "sentAt",
        "recievedAt",
        "clientIP",
        "procNumInArray",
        "procID",
        "taskID",
    }
)
_META_FIELDS = frozenset({"host", "time"})
_PROCESS_FIELDS = frozenset({"nJobs", "threshold", "thresholdProgress", "fTolerance"})
#: Keys of one process in the list form of ``processes`` (the original's process columns).
_PROCESS_ITEM_FIELDS = _PROCESS_FIELDS | {"name", "type", "kin", "taskID"}


def status_of(event_class: str) -> str:
    """The watchkeeper status of a Lamia event class; any other class is kept, lowercased,
    and an event without a class (``""``) means the job is running."""
    if not event_class:
        return "running"
    return STATUS.get(event_class.upper(), event_class.lower()[:64])


def shape_of(spec: Mapping[str, Any]) -> tuple[int | None, float | None, int | None]:
    """``(nJobs, threshold, needed)`` of a process as ``lamia.task.created`` carries it.

    ``threshold`` is an amount (``thresholdProgress``), ``needed`` the jobs that must be
    ``DONE`` (the list form ``[nJobs, needed]``). Creates stored before the two were told
    apart carried the list form's ``needed`` as ``threshold`` as well as ``tolerance``.
    """
    if "thresholdProgress" in spec:
        return spec["nJobs"], spec["thresholdProgress"], spec["tolerance"]
    needed = spec.get("tolerance")
    return spec.get("nJobs"), None if needed is not None else spec.get("threshold"), needed


def is_done(event_class: str | None) -> bool:
    return event_class is not None and event_class.upper() == "DONE"


def job_id(task: str, proc: str, index: int | None) -> str:
    """The watchkeeper task id of one job."""
    return f"{task}/{proc}" if index is None else f"{task}/{proc}[{index}]"


def group_of(task_id: str, producer: str | None) -> str | None:
    """The Lamia task a watchkeeper task is a job of (``<task>/<proc>...`` produced by
    ``<task>``), or ``None``: what deleting a Lamia task removes from the task views."""
    if producer and task_id.startswith(producer + "/"):
        return producer
    return None


def executing_host(event_class: str, host: str | None, submit_host: str | None) -> str | None:
    """The host a job event names as the one running the job, or ``None``.

    ``SUBMITTED`` is sent when the job is handed to the batch system, from the host that
    submitted it, and so is any event from the task's own submit host: neither host runs the
    job, so neither is the job's agent.
    """
    if not host or event_class.upper() == "SUBMITTED" or host == submit_host:
        return None
    return host


def load_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object.

    Lamia's own Python client (``LamiaMonitoringAPI.follow_task``) posts ``json.dumps(data)``
    through ``requests``' ``json=``, so its body is a JSON *string* holding the object; that
    double encoding is unwrapped here so the client works unchanged.
    """
    if not body.strip():
        raise InvalidBatch([Issue("body", "expected a JSON object, got an empty body")])
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None
    if isinstance(data, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(data)
    if not isinstance(data, dict):
        raise InvalidBatch([Issue("body", "expected a JSON object")])
    check_depth(data, "", level=1)
    return data


def parse_index(value: str | None) -> int | None:
    """The ``arrayIndex`` query parameter: an integer (its range is checked against the array)."""
    if value is None:
        return None
    index = int_from_text(value)
    if index is None:
        raise InvalidBatch(
            [
                Issue(
                    "query.arrayIndex", f"expected an integer, got {value[:40]!r} (at most 64 bits)"
                )
            ]
        )
    return index


def check_name(value: str, path: str, max_len: int, issues: list[Issue]) -> None:
    """Task and process names are path segments; ``@`` starts the reserved ``@all``."""
    if not value or len(value) > max_len:
        issues.append(Issue(path, f"a name must be 1 to {max_len} characters"))
    elif "/" in value or value.startswith("@") or any(ord(c) < 32 for c in value):
        issues.append(
            Issue(path, "a name must not contain '/' or control characters, nor start with '@'")
        )
    elif path.startswith("processes") and ("[" in value or "]" in value):
        issues.append(Issue(path, "a process name must not contain '[' or ']'"))


def task_created(task: str, body: bytes, *, client_ip: str | None, now: float) -> Event:
    """``POST /api/v0/<task>``: validate the whole request and return its event."""
    issues: list[Issue] = []
    check_name(task, "path.task", MAX_TASK_NAME, issues)
    item = load_object(body)
    f = Fields(item, "", issues)
    _unknown(item, _TASK_FIELDS, "", issues)
    # A body ``name`` other than the path's is overridden by the path, as the original did.
    f.text("name", max_len=MAX_TASK_NAME)
    host, sent_at = _meta(f)
    host = host or f.text("hostname", max_len=200)
    processes = _processes(f)
    attrs = {
        "task": task,
        "processes": processes,
        "tags": _tags(f),
        "username": f.text("username", max_len=200),
        "comment": f.text("comment"),
        "config": item.get("config"),
        "emailNotify": item.get("emailNotify"),
        "depGraph": f.text("depGraph", max_len=10_000_000),
        "taskClass": f.text("taskClass", max_len=200) or f.text("typeLabel", max_len=200),
        "host": host,
        "sent_at": sent_at,
        "client_ip": client_ip,
    }
    if issues:
        raise InvalidBatch(issues)
    ts = sent_at if sent_at is not None else now
    event = Event(TASK_CREATED, ts, "info", _source(host, client_ip), f"lamia:{task}", attrs, item)
    event.received_at = now
    return event


def task_deleted(task: str, *, client_ip: str | None, now: float) -> Event:
    """``DELETE /api/v0/<task>``."""
    attrs = {"task": task, "client_ip": client_ip}
    event = Event(TASK_DELETED, now, "info", _source(None, client_ip), f"lamia:{task}", attrs, None)
    event.received_at = now
    return event


def job_event(
    task: str,
    proc: str,
    index: int | None,
    body: bytes,
    *,
    client_ip: str | None,
    now: float,
    submit_host: str | None = None,
) -> list[Event]:
    """``POST /api/v0/<task>/<proc>/event[?arrayIndex=i]``: the ``lamia.event`` and the job's
    ``task.status``, to be written in one batch. ``submit_host`` is the host the Lamia task
    was created from (its ``_meta.host``): it is not the job's agent."""
    issues: list[Issue] = []
    item = load_object(body)
    f = Fields(item, "", issues)
    _unknown(item, _EVENT_FIELDS, "", issues)
    # The original took events without a class; such an event says only that the job lives.
    event_class = f.text("eventClass", max_len=64) or ""
    host, sent_at = _meta(f)
    host = host or f.text("hostname", max_len=200)
    progress = _progress(f)
    if issues:
        raise InvalidBatch(issues)
    # The payload is opaque, as in the original: only ``progress`` carries progress.
    payload = item.get("payload")
    ts = sent_at if sent_at is not None else now
    level = _LEVELS.get(event_class.upper(), "info")
    jid = job_id(task, proc, index)
    source = _source(host, client_ip)
    attrs = {
        "task": task,
        "proc": proc,
        "index": index,
        "class": event_class,
        "progress": progress,
        "payload": payload,
        "host": host,
        "sent_at": sent_at,
        "client_ip": client_ip,
    }
    lamia_event = Event(JOB_EVENT, ts, level, source, f"task:{jid}", attrs, item)
    status = kinds.task_status(
        jid,
        status_of(event_class),
        producer=task,
        agent=executing_host(event_class, host, submit_host),
    )
    status_event = Event(kinds.TASK_STATUS, ts, level, source, f"task:{jid}", status, None)
    lamia_event.received_at = status_event.received_at = now
    return [lamia_event, status_event]


# --- fields ---------------------------------------------------------------------------------


def _unknown(
    item: Mapping[str, Any], allowed: frozenset[str], prefix: str, issues: list[Issue]
) -> None:
    for key in item:
        if key not in allowed:
            path = f"{prefix}.{key}" if prefix else str(key)
            issues.append(
                Issue(path, f"unknown field: expected one of {', '.join(sorted(allowed))}")
            )


def _source(host: str | None, client_ip: str | None) -> str | None:
    if host:
        return f"host:{host}"[:200]
    return f"ip:{client_ip}" if client_ip else None


def _meta(f: Fields) -> tuple[str | None, float | None]:
    """``_meta``: the sender's host and its own time (epoch seconds as a number or a string,
    as Lamia's clients send ``date +%s.%N`` and ``str(time.time())``, or ISO 8601)."""
    meta = f.mapping("_meta")
    if meta is None:
        return None, None
    _unknown(meta, _META_FIELDS, f.path("_meta"), f.issues)
    mf = Fields(meta, f.path("_meta"), f.issues)
    host = mf.text("host", max_len=200)
    value = meta.get("time")
    if value is None:
        return host, None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    try:
        sent_at = parse_time(value)
    except ValueError as exc:
        mf.fail("time", str(exc))
        return host, None
    return host, sent_at


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _numeric(value: Any) -> float | None:
    """A number, or a string holding one: shell scripts quote their values, and the original's
    marshmallow fields took both."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    return _number(value)


def _whole(value: Any) -> Any:
    """A string holding an integer as that integer (the original's Integer fields took "3")."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return value


def _progress(f: Fields) -> float | None:
    """``progress``: a number, or a string holding one; the original's integer column took
    negative values too."""
    value = f.obj.get("progress")
    if value is None:
        return None
    number = _numeric(value)
    if number is None:
        f.fail("progress", "expected a number (or a string holding one)")
    return number


def _tags(f: Fields) -> list[str]:
    value = f.obj.get("tags")
    if value is None:
        return []
    if not isinstance(value, list):
        f.fail("tags", "expected a list of strings")
        return []
    tags: list[str] = []
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag or len(tag) > 200:
            f.issues.append(
                Issue(f"{f.path('tags')}[{i}]", "expected a string of 1 to 200 characters")
            )
        elif NUL in tag:
            f.issues.append(Issue(f"{f.path('tags')}[{i}]", NUL_REASON))
        elif tag not in tags:
            tags.append(tag)
    return tags


def _processes(f: Fields) -> dict[str, dict[str, Any]]:
    """``processes``: ``{name: null | nJobs | [nJobs, needed] | {"nJobs", "threshold"}}``, or
    the original's list form ``[{"type", "name", "nJobs", "fTolerance",
    "thresholdProgress"}]`` (the only way it could set a threshold amount).

    ``needed`` is the number of jobs that must be ``DONE`` (Lamia's client sends its
    ``minSuccess`` there, although the original schema called it ``fTolerance``).
    """
    value = f.obj.get("processes")
    if value is None or (isinstance(value, Mapping | list) and not value):
        f.fail("processes", "a task needs at least one process")
        return {}
    if isinstance(value, list):
        value = _named(value, f.path("processes"), f.issues)
    if not isinstance(value, Mapping):
        f.fail("processes", "expected an object of process names, or a list of processes")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        path = f"{f.path('processes')}.{name}"
        before = len(f.issues)
        check_name(str(name), path, MAX_PROC_NAME, f.issues)
        parsed = _process(spec, path, f.issues)
        if len(f.issues) == before and parsed is not None:
            out[str(name)] = parsed
    return out


def _named(items: list[Any], path: str, issues: list[Issue]) -> dict[str, Any]:
    """The list form as the object form: ``{name: {"nJobs", ...}}`` (``None`` if solitary)."""
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            issues.append(Issue(where, "expected a process object with a string name"))
            continue
        _unknown(item, _PROCESS_ITEM_FIELDS, where, issues)
        kind = item.get("type", "array" if item.get("nJobs") is not None else "solitary")
        if kind not in ("solitary", "array"):
            issues.append(Issue(f"{where}.type", "expected 'solitary' or 'array'"))
            continue
        if kind == "array" and item.get("nJobs") is None:
            issues.append(Issue(f"{where}.nJobs", "an array needs nJobs"))
            continue
        if item["name"] in out:
            issues.append(Issue(f"{where}.name", "a process of this name is listed already"))
            continue
        spec = {k: item[k] for k in _PROCESS_FIELDS if item.get(k) is not None}
        if kind == "solitary":
            spec.pop("nJobs", None)
        out[item["name"]] = spec
    return out


def _needed(value: Any, where: str, issues: list[Issue]) -> int | None:
    """The jobs that must be ``DONE``; 0 (or none) means every job, as no tolerance did."""
    if value is None:
        return None
    value = _whole(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JOBS:
        issues.append(Issue(where, f"the jobs needed must be an integer from 0 to {MAX_JOBS}"))
        return None
    return value or None


def _process(spec: Any, path: str, issues: list[Issue]) -> dict[str, Any] | None:
    # The original's nJobs was any integer; 0 is an array whose only index is 0.
    def jobs(value: Any, where: str) -> int | None:
        value = _whole(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JOBS:
            issues.append(Issue(where, f"nJobs must be an integer from 0 to {MAX_JOBS}"))
            return None
        return value

    def shape(n: int | None, threshold: float | None, needed: int | None) -> dict[str, Any]:
        return {"nJobs": n, "thresholdProgress": threshold, "tolerance": needed}

    if spec is None:
        return shape(None, None, None)
    if isinstance(spec, list):
        if len(spec) != 2:
            issues.append(Issue(path, "expected [nJobs, needed]"))
            return None
        n = jobs(spec[0], f"{path}[0]")
        # More jobs needed than exist is taken, as the original did: enough never comes.
        needed = _needed(spec[1], f"{path}[1]", issues)
        return None if n is None else shape(n, None, needed)
    if isinstance(spec, Mapping):
        _unknown(spec, _PROCESS_FIELDS, path, issues)
        n = spec.get("nJobs")
        if n is not None:
            n = jobs(n, f"{path}.nJobs")
        key = "thresholdProgress" if spec.get("threshold") is None else "threshold"
        threshold = spec.get(key)
        if threshold is not None:
            number = _numeric(threshold)
            if number is None or number <= 0:
                issues.append(Issue(f"{path}.{key}", "expected a positive number"))
                return None
            threshold = number
        return shape(n, threshold, _needed(spec.get("fTolerance"), f"{path}.fTolerance", issues))
    if isinstance(spec, str):  # the original read a string as a sequence: nothing to take
        issues.append(Issue(path, f"nJobs must be an integer from 0 to {MAX_JOBS}"))
        return None
    number = jobs(spec, path)
    return None if number is None else shape(number, None, None)
