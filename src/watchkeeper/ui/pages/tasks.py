"""Tasks: the fleet waterfall (chart 1), the task list, and one task's page."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from starlette.responses import Response

from watchkeeper.api.deps import liveness_limits, read_conn
from watchkeeper.api.errors import ApiError
from watchkeeper.api.params import decode_cursor, encode_cursor
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import PageError, page_window, render
from watchkeeper.views import components, incidents, tasks

NAV = (
    NavEntry("waterfall", "Waterfall", "/waterfall", order=10),
    NavEntry("tasks", "Tasks", "/tasks", order=15),
)
router = page_router()

#: Task rows per waterfall page: about what a laptop screen shows.
ROWS = 40
PAGE = 50


@router.get("/waterfall")
def waterfall(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agent: str | None = None,
    producer: str | None = None,
) -> Response:
    agents = [
        a["id"] for a in components.list_components(conn, type="agent", **liveness_limits(request))
    ]
    return render(
        request,
        "waterfall.html",
        active="waterfall",
        title="Waterfall",
        window=page_window(request, lambda: tasks.latest_activity(conn)),
        agents=agents,
        producers=tasks.producers(conn),
        agent=agent or "",
        producer=producer or "",
        rows=ROWS,
    )


def _list_context(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    status: str | None = None,
    agent: str | None = None,
    producer: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """What the list and its live partial show: one page of tasks with the URL's filters (a
    dependency of both)."""
    win = page_window(request)
    statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
    f = tasks.TaskFilter(
        status=statuses or None,
        agent=agent or None,
        producer=producer or None,
        since=win.start,
        until=win.end,
        search=q or None,
    )
    try:
        after = decode_cursor(cursor, numeric_first=True)  # the page sorts by update time
    except ApiError as exc:
        raise PageError(422, exc.message) from None
    page, total, next_key = tasks.list_tasks(conn, f, limit=PAGE, after=after)
    return {
        "window": win,
        "tasks": page,
        "total": total,
        "next_cursor": encode_cursor(next_key) if next_key is not None else None,
        "filters": {
            "status": status or "",
            "agent": agent or "",
            "producer": producer or "",
            "q": q or "",
        },
    }


ListContext = Annotated[dict[str, Any], Depends(_list_context)]


@router.get("/tasks")
def task_list(request: Request, context: ListContext) -> Response:
    return render(request, "tasks.html", active="tasks", title="Tasks", **context)


@router.get("/partials/tasks")
def task_list_part(request: Request, context: ListContext) -> Response:
    """The table alone, re-fetched by the list as tasks change."""
    return render(request, "_tasks_live.html", active="tasks", title="", **context)


@router.get("/tasks/{task_id:path}")
def task_page(
    task_id: str,
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    incident_limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    task = tasks.get_task(conn, task_id)
    if task is None:
        raise PageError(404, f"task {task_id!r} not found")
    window = request.app.state.settings.incident_window
    linked = incidents.for_task(conn, task_id, tasks.abort_points(conn, task_id), window)
    return render(
        request,
        "task.html",
        active="tasks",
        title=f"Task {task_id}",
        task=task,
        incidents=linked[:incident_limit],
    )
