"""``/api/v1/charts``: flat rows for the four seed-000 charts.

Rows carry ISO-8601 times and flat fields so Grafana's JSON data sources (and the dashboard)
read them as they are.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response

from watchkeeper.api.auth import require
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, responses
from watchkeeper.api.limits import at_most
from watchkeeper.api.params import Int64, Interval, window
from watchkeeper.events import kinds
from watchkeeper.events.timefmt import iso
from watchkeeper.views import incidents, programs, tasks, timeline

router = APIRouter(
    prefix="/api/v1/charts",
    tags=["charts"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)

Spans = Annotated[
    int | None,
    Query(ge=1, description="most spans answered (at most the server's max_spans)"),
]

#: The header that tells how many rows (tasks, agents, instances) a paged chart has in all.
TOTAL = "X-Total-Count"


@router.get("/waterfall", summary="Task status spans (chart 1)")
def waterfall(
    response: Response,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    request: Request,
    since: str | None = None,
    until: str | None = None,
    agent: str | None = None,
    producer: str | None = None,
    rows: Annotated[int, Query(ge=1, le=10_000, description="task rows per page")] = 200,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Spans = None,
) -> list[dict]:
    """Spans of one page of tasks, newest task first; ``X-Total-Count`` = task rows in all.
    ``limit`` defaults to 5,000 spans."""
    limit = _spans(request, limit, 5000)
    start, end = window(since, until)
    filters = {"agent": agent, "producer": producer}
    response.headers[TOTAL] = str(tasks.waterfall_total(conn, start, end, **filters))
    return tasks.waterfall(conn, start, end, rows=rows, offset=offset, limit=limit, **filters)


#: The statuses the aborted chart may show: aborts, or failures, never the two as one.
ENDS = {"aborted": kinds.ABORTED, "failed": kinds.FAILED}


@router.get(
    "/aborted", summary="Aborted (or failed) tasks over time, with incident context (chart 2)"
)
def aborted(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    since: str | None = None,
    until: str | None = None,
    agent: str | None = None,
    status: Annotated[
        Literal["aborted", "failed"], Query(description="aborted tasks, or failed ones")
    ] = "aborted",
    interval: Interval = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict:
    """Aborts counted in buckets of ``interval`` seconds (at most ``max_buckets`` of them; by
    default about 60), and the latest ``limit`` aborted tasks with their incident context."""
    settings = request.app.state.settings
    start, end = window(since, until)
    step = interval or _auto_interval(end - start)
    count = max(1, math.ceil((end - start) / step))
    hint = "widen interval or shorten the window"
    at_most("interval", count, settings.max_buckets, "buckets", hint)
    counts = tasks.aborted_counts(
        conn, start, end, step=step, buckets=count, agent=agent, statuses=ENDS[status]
    )
    rows = [
        {"start": iso(start + i * step), "end": iso(min(start + (i + 1) * step, end)), "count": n}
        for i, n in enumerate(counts)
    ]
    linked = []
    shown = tasks.aborted_tasks(conn, start, end, agent=agent, statuses=ENDS[status], limit=limit)
    context = incidents.around(
        conn,
        [(p["task"], p["agent"], p["ts"]) for p in shown],
        settings.incident_window,
    )
    runs = programs.outcomes(conn, (p["task"] for p in shown))
    for point, found in zip(shown, context, strict=True):
        cause = incidents.cause(found, point["ts"]) or {}
        run = runs.get(point["task"], {})
        linked.append(
            {
                "task": point["task"],
                "ts": iso(point["ts"]),
                "status": point["status"],
                "agent": point["agent"],
                "producer": point["producer"],
                "reason": cause.get("message"),
                "last_state": cause.get("last_state"),
                "current_loc": cause.get("current_loc"),
                "target_loc": cause.get("target_loc"),
                "subtask": cause.get("subtask"),
                "subtasks_left": cause.get("subtasks_left"),
                "pings": cause.get("pings"),
                "fingerprint": cause.get("fingerprint"),
                "incident": cause.get("id"),
                "link": cause.get("link"),
                "incidents": len(found),
                # Runs of an agent's programs: how the process ended.
                "exit_code": run.get("exit_code"),
                "run_reason": run.get("reason"),
            }
        )
    return {
        "status": status,
        "interval": step,
        "buckets": rows,
        "tasks": linked,
        "total": sum(counts),
    }


@router.get("/processed-per-agent", summary="Tasks finished and aborted per agent (chart 3)")
def processed_per_agent(
    response: Response,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    since: str | None = None,
    until: str | None = None,
    sort: Annotated[str, Query(pattern=_sorts(tasks.PROCESSED_SORTS))] = "agent",
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict]:
    """One row per agent, ordered by ``sort`` (``-`` for descending); ``X-Total-Count`` =
    agents in all."""
    start, end = window(since, until)
    rows = tasks.processed_per_agent(
        conn, start, end, sort=sort.lstrip("-"), descending=sort.startswith("-")
    )
    response.headers[TOTAL] = str(len(rows))
    return rows[offset : offset + limit]


@router.get("/component-status", summary="State spans per component instance (chart 4)")
def component_status(
    request: Request,
    response: Response,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    type: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lanes: Annotated[int, Query(ge=1, le=10_000, description="instances per page")] = 50,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    resolution: Annotated[
        float, Query(ge=0, description="merge runs of spans shorter than this (seconds)")
    ] = 0.0,
    limit: Spans = None,
) -> list[dict]:
    """Spans of one page of instances; ``X-Total-Count`` = instances with a lane in all. A
    silence longer than ``offline_after`` is a span of state ``no signal``. ``limit`` defaults
    to 10,000 spans."""
    limit = _spans(request, limit, 10_000)
    start, end = window(since, until)
    response.headers[TOTAL] = str(timeline.lanes_total(conn, end, type=type))
    return timeline.component_status(
        conn,
        start,
        end,
        type=type,
        lanes=lanes,
        offset=offset,
        resolution=resolution,
        limit=limit,
        now=time.time(),
        offline_after=request.app.state.settings.offline_after,
    )


def _spans(request: Request, asked: int | None, default: int) -> int:
    """The spans a span chart may answer: ``asked`` within ``max_spans``, or the default
    (never above the maximum an operator set)."""
    maximum = request.app.state.settings.max_spans
    return min(default, maximum) if asked is None else at_most("limit", asked, maximum, "spans")


def _sorts(keys: tuple[str, ...]) -> str:
    return "^-?(" + "|".join(keys) + ")$"


def _auto_interval(span: float) -> float:
    """A round bucket size giving about 60 buckets."""
    for step in (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400):
        if span / step <= 60:
            return float(step)
    return 86400.0 * math.ceil(span / 86400 / 60)
