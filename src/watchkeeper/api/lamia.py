"""``/api/v0``: Lamia's monitoring API (seed 003), so Lamia jobs report here unchanged.

Requests are checked against the task-groups view, translated into events by
:mod:`watchkeeper.events.lamia` and stored through the writer; answers come from the view, in
Lamia's keys (:mod:`~watchkeeper.api.lamia_wire`), and refusals in Lamia's envelope
(:mod:`~watchkeeper.api.lamia_errors`).

Fixed on purpose: ``@all`` only lists the processes of its own task, a missing task, process or
event answers 404 (never 500), and an unknown ``fields``/``order`` name answers 400.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from watchkeeper.api import lamia_wire as wire
from watchkeeper.api.auth import public, require
from watchkeeper.api.body import read_body
from watchkeeper.api.deps import group_staleness, read_conn
from watchkeeper.api.hotpath import hot_post
from watchkeeper.api.lamia_errors import (
    LAMIA_ERRORS,
    LAMIA_WRITE,
    LamiaError,
    LamiaRoute,
    lamia_response,
)
from watchkeeper.api.params import refuse_nul
from watchkeeper.api.responses import JSONResponse
from watchkeeper.events import lamia
from watchkeeper.events.fields import MAX_INT, int_from_text
from watchkeeper.views.groups import queries

T = TypeVar("T")

#: Seconds a process's shape (solitary, or an array of nJobs) is trusted without reading it
#: again. A shape never changes; only a delete can end it, and deletes through this server
#: forget it at once. The view itself ignores events of processes that no longer exist, and
#: the answer then says so, so a shape trusted a little too long never stores a wrong fact.
SHAPE_TTL = 5.0
#: Enough for the processes of the biggest tasks at once (an entry is a few hundred bytes).
SHAPES_KEPT = 50_000

PREFIX = "/api/v0"
router = APIRouter(
    prefix=PREFIX, tags=["lamia (v0)"], route_class=LamiaRoute, responses=LAMIA_ERRORS
)
Conn = Annotated[sa.Connection, Depends(read_conn)]


# --- helpers --------------------------------------------------------------------------------


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _read(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a view query on a read connection, off the event loop."""

    refuse_nul(request)

    def run() -> T:
        with request.app.state.read_engine.connect() as conn:
            return fn(conn, *args)

    return await run_in_threadpool(run)


async def _shape(request: Request, task: str, proc: str) -> tuple[bool, dict[str, Any] | None]:
    """:func:`~watchkeeper.views.groups.queries.lookup`, remembered for :data:`SHAPE_TTL`
    seconds: jobs post many events to the same processes, and this spares each of them a read."""
    shapes = _shapes(request)
    now = time.monotonic()
    hit = shapes.get((task, proc))
    if hit is not None and hit[1] > now:
        return True, hit[0]
    found = await _read(request, queries.lookup, task, proc)
    if found[1] is not None:
        # Forget the oldest, not all: a task with more processes than fit would otherwise
        # empty the memory again and again and pay a read for almost every event.
        shapes.pop((task, proc), None)
        while len(shapes) >= SHAPES_KEPT:
            del shapes[next(iter(shapes))]
        shapes[(task, proc)] = (found[1], now + SHAPE_TTL)
    return found


def _shapes(request: Request) -> dict[tuple[str, str], tuple[dict[str, Any], float]]:
    state = request.app.state
    if not hasattr(state, "lamia_shapes"):
        state.lamia_shapes = {}
    return state.lamia_shapes


def _no_task(task: str) -> LamiaError:
    return LamiaError(404, f"No task named {task} exists.", {"taskName": task})


def _no_process(task: str, proc: str) -> LamiaError:
    return LamiaError(404, "Process not found.", {"taskName": task, "procName": proc})


def _check_slot(
    task: str, proc: str, found: tuple[bool, dict[str, Any] | None], index: int | None
) -> None:
    """The process exists and ``index`` addresses it: an array slot, or nothing for a solitary
    job. Indices 0 to nJobs are accepted, as Lamia did, so both 0-based (HTCondor
    ``$(Process)``) and 1-based (Slurm ``--array=1-N``) numbering work."""
    exists, info = found
    if not exists:
        raise _no_task(task)
    if info is None:
        raise _no_process(task, proc)
    n_jobs = info["n_jobs"]
    where = {"taskName": task, "procName": proc}
    if index is None and n_jobs is not None:
        raise LamiaError(
            400, "Is not a standalone process: arrayIndex is required.", {**where, "nJobs": n_jobs}
        )
    if index is not None and n_jobs is None:
        # processName: the original's key for the process in this refusal.
        raise LamiaError(
            400, "Process is not an array.", {**where, "index": index, "processName": proc}
        )
    if index is not None and n_jobs is not None and not 0 <= index <= n_jobs:
        raise LamiaError(
            400, "Process index is not within the range.", {"index": index, "nJobs": n_jobs}
        )


# --- the hot path first: routes are matched in order, and jobs post events all the time ------


#: The job-event hot path, answered ahead of FastAPI's per-request machinery (which costs more
#: than the rest of the request), as ``POST /api/v1/events`` is.
FAST_ROUTES: list[Route] = []


@hot_post(
    router,
    "/{task}/{proc}/event",
    role="ingest",
    into=FAST_ROUTES,
    render=lamia_response,
    responses=LAMIA_WRITE,
    status_code=201,
    summary="Post a job event",
)
async def post_event(task: str, proc: str, request: Request) -> JSONResponse:
    """``{"eventClass", "payload", "progress", "_meta": {"host", "time"}}``, with
    ``?arrayIndex=i`` for a job of an array → 201 ``{"created": true, "id", "progress",
    "enough"}``; ``enough`` tells the job that the process needs no more work."""
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    index = lamia.parse_index(request.query_params.get("arrayIndex"))
    found = await _shape(request, task, proc)
    submit_host = found[1]["host"] if found[1] is not None else None
    events = lamia.job_event(
        task,
        proc,
        index,
        body,
        client_ip=_client_ip(request),
        now=time.time(),
        submit_host=submit_host,
    )
    if index is not None and found[1] is None:
        # The original looked the array up by name and answered 400 when there was none.
        raise LamiaError(400, "Process array does not exist.", {"processName": proc})
    _check_slot(task, proc, found, index)
    ack = await request.app.state.writer.write(events)
    # The task-groups view answered the job event with its process's progress after it.
    outcome = ack.results[ack.first_seq]
    if outcome is None:
        # Deleted while this request was on its way: the log keeps the event, no task has it.
        raise _no_process(task, proc)
    progress, enough = outcome
    return JSONResponse(
        {"created": True, "id": ack.first_seq, "progress": progress, "enough": enough},
        status_code=201,
    )


# --- tasks ----------------------------------------------------------------------------------


@router.get("", dependencies=[require("read")], summary="List tasks")
@router.get("/", dependencies=[require("read")], include_in_schema=False)
def list_tasks(request: Request, conn: Conn) -> JSONResponse:
    """``tags``/``tag`` (a task must have all of them), ``fields``, ``offset``, ``limit``,
    ``order`` (name, submittedAt, createdAt, updatedAt, username) and ``sort`` (asc, desc)."""
    query = request.query_params
    fields = wire.fields(query, wire.TASK_FIELDS + wire.TASK_KEYS)
    order, descending = wire.ordering(query, wire.TASK_ORDER)
    rows, total = queries.list_tasks(
        conn,
        tags=wire.multi(query, "tags") + wire.multi(query, "tag"),
        order=None if order is None else wire.TASK_ORDER[order],
        descending=descending,
        offset=wire.offset(query),
        limit=wire.page_size(query),
    )
    entries = [wire.task(t) for t in wire.tasks_v0(conn, rows, **group_staleness(request))]
    return JSONResponse({"entries": wire.select(entries, fields), "total": total})


@router.delete("", dependencies=[require("admin")], summary="Refused: batch deletion")
@router.delete("/", dependencies=[require("admin")], include_in_schema=False)
def delete_all() -> JSONResponse:
    raise LamiaError(403, "By security reasons, batch deletion of tasks is forbidden.")


async def _create(request: Request, task: str, body: bytes) -> JSONResponse:
    event = lamia.task_created(task, body, client_ip=_client_ip(request), now=time.time())
    if await _read(request, queries.created_seq, task) is not None:
        raise LamiaError(409, "Task name is not unique.", {"name": task})
    ack = await request.app.state.writer.write([event])
    # Two creates may race past the check above; the view keeps the first, so the loser learns
    # here that its task is not the one stored.
    winner = await _read(request, queries.created_seq, task)
    if winner is not None and winner != ack.first_seq:
        raise LamiaError(409, "Task name is not unique.", {"name": task})
    return JSONResponse({"created": True}, status_code=201)


@router.post(
    "",
    status_code=201,
    dependencies=[require("ingest")],
    responses=LAMIA_WRITE,
    summary="Create a task",
)
async def create_named(request: Request) -> JSONResponse:
    """As ``POST /api/v0/<task>``, with the name in the body's ``name``."""
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    name = lamia.load_object(body).get("name")
    if not isinstance(name, str):
        raise LamiaError(400, "A task name is required.", {"path": "name"})
    return await _create(request, name, body)


@router.post(
    "/{task}",
    status_code=201,
    dependencies=[require("ingest")],
    responses=LAMIA_WRITE,
    summary="Create a task",
)
async def create_task(task: str, request: Request) -> JSONResponse:
    """``{"processes": {"<name>": null | nJobs | [nJobs, needed] | {"nJobs", "threshold"}},
    "tags", "username", "comment", "config", "emailNotify", "_meta": {"host", "time"}}`` →
    201 ``{"created": true}``; 409 if the name exists, 400 without processes."""
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    return await _create(request, task, body)


@router.get("/{task}", dependencies=[require("read")], summary="One task")
def get_task(task: str, request: Request, conn: Conn) -> JSONResponse:
    item = wire.get_task(conn, task, **group_staleness(request))
    if item is None:
        raise _no_task(task)
    return JSONResponse(wire.task(item))


@router.delete("/{task}", dependencies=[require("admin")], summary="Delete a task")
async def delete_task(task: str, request: Request) -> JSONResponse:
    if await _read(request, queries.created_seq, task) is None:
        raise _no_task(task)
    event = lamia.task_deleted(task, client_ip=_client_ip(request), now=time.time())
    await request.app.state.writer.write([event])
    shapes = _shapes(request)
    for key in [key for key in shapes if key[0] == task]:
        shapes.pop(key, None)
    return JSONResponse({"deleted": 1})


# --- processes ------------------------------------------------------------------------------


@router.get("/{task}/{proc}", dependencies=[require("read")], summary="One process, or @all")
def get_process(task: str, proc: str, request: Request, conn: Conn) -> JSONResponse:
    """A process with its type, ``lastEventClass``, ``progress`` and ``enough``; with ``@all``,
    the processes of the task, only those having an event of class ``hasEventsOfClass`` if
    given."""
    if proc == "@all":
        if queries.created_seq(conn, task) is None:
            raise _no_task(task)
        event_class = request.query_params.get("hasEventsOfClass") or None
        items = wire.processes_with_class(conn, task, event_class, **group_staleness(request))
        return JSONResponse([wire.process(p) for p in items])
    item = wire.get_process(conn, task, proc, **group_staleness(request))
    if item is None:
        if queries.created_seq(conn, task) is None:
            raise _no_task(task)
        raise _no_process(task, proc)
    return JSONResponse(wire.process(item))


# --- events ---------------------------------------------------------------------------------


def _event_slot(conn: sa.Connection, task: str, proc: str, request: Request) -> int | None:
    index = wire.array_index(request.query_params)
    found = queries.lookup(conn, task, proc)
    if not found[0]:
        raise _no_task(task)
    if found[1] is None or (index is not None and found[1]["n_jobs"] is None):
        # The original looked a job's events up among the arrays: a solitary process asked
        # for with an arrayIndex was not found there.
        raise _no_process(task, proc)
    if index is not None:
        _check_slot(task, proc, found, index)
    return index


@router.get("/{task}/{proc}/event", dependencies=[require("read")], summary="List events")
def list_events(task: str, proc: str, request: Request, conn: Conn) -> JSONResponse:
    """Events of a process (of one job with ``arrayIndex``), filtered by ``eventClass``,
    ``hostname``, ``ip``; paginated by ``offset``, ``limit``, ``order``, ``sort``; ``fields``
    selects the fields of each entry."""
    query = request.query_params
    index = _event_slot(conn, task, proc, request)
    fields = wire.fields(query, wire.EVENT_FIELDS + wire.EVENT_KEYS)
    order, descending = wire.ordering(query, wire.EVENT_ORDER)
    rows, total = queries.list_events(
        conn,
        task,
        proc,
        index=index,
        event_class=query.get("eventClass"),
        host=query.get("hostname"),
        ip=query.get("ip"),
        order=None if order is None else wire.EVENT_ORDER[order],
        descending=descending,
        offset=wire.offset(query),
        limit=wire.page_size(query),
    )
    entries = [wire.event(wire.event_v0(row)) for row in rows]
    return JSONResponse({"entries": wire.select(entries, fields), "total": total})


@router.get("/{task}/{proc}/event/{event_id}", dependencies=[require("read")], summary="One event")
def get_event(task: str, proc: str, event_id: str, request: Request, conn: Conn) -> JSONResponse:
    index = _event_slot(conn, task, proc, request)
    item = None
    if event_id.isdigit():  # any script's digits: the id is meant as a number
        number = int_from_text(event_id, low=0)
        if number is None:
            raise LamiaError(
                400,
                "`id' must be a non-negative integer.",
                {"parameter": "id", "value": event_id[:40], "max": MAX_INT},
            )
        item = queries.event_row(conn, task, proc, number, index)
    if item is None:
        raise LamiaError(404, "Event not found.", {"id": event_id})
    return JSONResponse(wire.event(wire.event_v0(item)))


#: The methods of each shape of path under ``/api/v0``, by its number of segments.
_ALLOWED = {0: "GET, POST, DELETE", 1: "GET, POST, DELETE", 2: "GET", 3: "GET, POST", 4: "GET"}


@router.api_route(
    "",
    methods=["PUT", "PATCH", "HEAD", "OPTIONS"],
    include_in_schema=False,
    dependencies=[public()],
)
@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
    dependencies=[public()],
)
def unknown(request: Request, rest: str = "") -> JSONResponse:
    """Anything else under ``/api/v0``: 405 with ``Allow`` on a known path, 404 otherwise, in
    Lamia's envelope."""
    parts = [part for part in rest.strip("/").split("/") if part]
    known = len(parts) <= 2 or (len(parts) in (3, 4) and parts[2] == "event")
    if known:
        raise LamiaError(
            405,
            "Method not allowed.",
            {"method": request.method, "path": request.url.path},
            headers={"Allow": _ALLOWED[len(parts)]},
        )
    raise LamiaError(404, "No such resource.", {"path": request.url.path})
