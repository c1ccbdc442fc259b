"""``/api/v1/tasks``: list with filters and cursor pagination, and one task in full."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from watchkeeper.api.auth import require
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import decode_cursor, encode_cursor, parse_when
from watchkeeper.views import incidents, tasks

router = APIRouter(
    prefix="/api/v1/tasks",
    tags=["tasks"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)

SortKey = Literal[
    "updated_at", "-updated_at", "created_at", "-created_at", "id", "-id", "status", "-status"
]


@router.get("", summary="List tasks")
def list_tasks(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    status: Annotated[list[str] | None, Query(description="repeat or comma-separate")] = None,
    agent: str | None = None,
    producer: str | None = None,
    since: Annotated[str | None, Query(description="updated at or after (ISO, epoch, -1h)")] = None,
    until: Annotated[str | None, Query(description="created at or before")] = None,
    q: Annotated[str | None, Query(description="substring of the task id")] = None,
    sort: SortKey = "-updated_at",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict:
    statuses = [s.strip().lower() for v in status or [] for s in v.split(",") if s.strip()]
    f = tasks.TaskFilter(
        status=statuses or None,
        agent=agent,
        producer=producer,
        since=parse_when("since", since),
        until=parse_when("until", until),
        search=q,
    )
    key = sort.lstrip("-")
    page, total, next_key = tasks.list_tasks(
        conn,
        f,
        sort=key,
        descending=sort.startswith("-"),
        limit=limit,
        after=decode_cursor(cursor, numeric_first=key.endswith("_at")),
    )
    return {
        "tasks": page,
        "total": total,
        "next_cursor": encode_cursor(next_key) if next_key is not None else None,
    }


@router.get(
    "/{task_id:path}", responses=responses(404), summary="One task with its history and incidents"
)
def get_task(
    task_id: str, request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> dict:
    task = tasks.get_task(conn, task_id)
    if task is None:
        raise ApiError(404, f"task {task_id!r} not found")
    window = request.app.state.settings.incident_window
    task["incidents"] = incidents.for_task(conn, task_id, tasks.abort_points(conn, task_id), window)
    return task
