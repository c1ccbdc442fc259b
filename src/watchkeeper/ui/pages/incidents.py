"""Incidents: grouped by fingerprint, searchable, newest first."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from starlette.responses import Response

from watchkeeper.api.deps import read_conn
from watchkeeper.api.params import Int64
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import page_window, render
from watchkeeper.views import incidents

NAV = (NavEntry("incidents", "Incidents", "/incidents", order=60),)
router = page_router()

PAGE = 50


def _list_context(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    q: str | None = None,
    agent: str | None = None,
    fingerprint: str | None = None,
    before_id: Annotated[Int64 | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """What the list and its live partial show: groups and one page of incidents (a
    dependency of both)."""
    win = page_window(request)
    items, total = incidents.list_incidents(
        conn,
        agent=agent or None,
        since=win.start,
        until=win.end,
        fingerprint=fingerprint or None,
        search=q or None,
        limit=PAGE,
        before_id=before_id,
    )
    return {
        "window": win,
        "incidents": items,
        "total": total,
        "groups": incidents.groups(conn, since=win.start, until=win.end),
        "q": q or "",
        "agent": agent or "",
        "fingerprint": fingerprint or "",
        "more": items[-1]["id"] if len(items) == PAGE else None,
    }


ListContext = Annotated[dict[str, Any], Depends(_list_context)]


@router.get("/incidents")
def incident_list(request: Request, context: ListContext) -> Response:
    return render(request, "incidents.html", active="incidents", title="Incidents", **context)


@router.get("/partials/incidents")
def incident_list_part(request: Request, context: ListContext) -> Response:
    """The groups and the list alone, re-fetched by the page as incidents arrive."""
    return render(request, "_incidents_live.html", active="incidents", title="", **context)
