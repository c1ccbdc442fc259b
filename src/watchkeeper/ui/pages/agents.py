"""Agents: the list and one agent's page (state, pings per state, recent tasks, incidents),
and the aborted tasks with the incident context agents sent (chart 2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.responses import Response

from watchkeeper.api.deps import liveness_limits, read_conn
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.pages.logs import agent_programs
from watchkeeper.ui.render import PageError, page_window, render
from watchkeeper.views import components, incidents, tasks

NAV = (
    NavEntry("aborted", "Aborted", "/aborted", order=20),
    NavEntry("agents", "Agents", "/agents", order=50, windowed=False),
)
router = page_router()

RECENT = 20


@router.get("/aborted")
def aborted(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agent: str | None = None,
    status: Literal["aborted", "failed"] = "aborted",
) -> Response:
    return render(
        request,
        "aborted.html",
        active="aborted",
        title=f"{status.capitalize()} tasks",
        window=page_window(request, lambda: tasks.latest_activity(conn)),
        agent=agent or "",
        status=status,
    )


def _list_context(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    state: str | None = None,
    liveness: Literal["online", "stale", "offline"] | None = None,
) -> dict[str, Any]:
    """What the list and its live partial show (a dependency of both)."""
    items = components.list_components(
        conn, type="agent", state=state or None, liveness_is=liveness, **liveness_limits(request)
    )
    return {"agents": items, "state": state or "", "liveness": liveness or ""}


ListContext = Annotated[dict[str, Any], Depends(_list_context)]


@router.get("/agents")
def agent_list(request: Request, context: ListContext) -> Response:
    return render(request, "agents.html", active="agents", title="Agents", **context)


@router.get("/partials/agents")
def agent_list_part(request: Request, context: ListContext) -> Response:
    """The table alone, re-fetched by the list as agents report (and as time ages them)."""
    return render(request, "_agents_live.html", active="agents", title="", **context)


@router.get("/agents/{agent_id:path}")
def agent_page(
    agent_id: str, request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> Response:
    agent = components.get_component(
        conn, "agent", agent_id, history_limit=200, **liveness_limits(request)
    )
    if agent is None:
        raise PageError(404, f"agent {agent_id!r} not found")
    recent, total_tasks, _ = tasks.list_tasks(conn, tasks.TaskFilter(agent=agent_id), limit=RECENT)
    found, total_incidents = incidents.list_incidents(conn, agent=agent_id, limit=RECENT)
    return render(
        request,
        "agent.html",
        active="agents",
        title=f"Agent {agent_id}",
        agent=agent,
        tasks=recent,
        total_tasks=total_tasks,
        incidents=found,
        total_incidents=total_incidents,
        agent_id=agent_id,
        **agent_programs(conn, agent_id),
    )
