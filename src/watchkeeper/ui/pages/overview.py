"""The overview: counts by task status, agents by liveness, recent incidents, ingest rate,
and the latest events scrolling live."""

from __future__ import annotations

import time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.responses import Response

from watchkeeper.api.deps import liveness_limits, read_conn
from watchkeeper.store import eventlog
from watchkeeper.ui import palette
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import render
from watchkeeper.views import components, incidents, tasks

NAV = (NavEntry("overview", "Overview", "/", order=0, windowed=False),)
router = page_router()

#: Latest events shown when the page opens (the live stream adds to them).
LATEST = 30
FAMILIES = ("waiting", "running", "finished", "aborted")


def stats(request: Request, conn: sa.Connection) -> dict[str, Any]:
    now = time.time()
    counts = tasks.status_counts(conn)
    order = {name: i for i, name in enumerate(FAMILIES)}
    statuses = sorted(counts.items(), key=lambda kv: (order[palette.family(kv[0])], kv[0]))
    agents = components.list_components(conn, type="agent", **liveness_limits(request))
    liveness = {"online": 0, "stale": 0, "offline": 0}
    for agent in agents:
        liveness[agent["liveness"]] += 1
    return {
        "statuses": statuses,
        "tasks_total": sum(counts.values()),
        "liveness": liveness,
        "agents_total": len(agents),
        "incidents_hour": incidents.count_since(conn, now - 3600),
        "ingest_rate": eventlog.received_since(conn, now - 60) / 60.0,
    }


@router.get("/")
def overview(request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]) -> Response:
    last = eventlog.last_seq(conn)
    latest = eventlog.read(conn, since_seq=max(0, last - LATEST), limit=LATEST)
    return render(
        request,
        "overview.html",
        active="overview",
        title="Overview",
        stats=stats(request, conn),
        latest=list(reversed(latest)),
        last_seq=last,
    )


@router.get("/partials/overview-stats")
def overview_stats(
    request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> Response:
    """The counters alone, re-fetched by the page as events arrive."""
    return render(
        request, "_overview_stats.html", active="overview", title="", stats=stats(request, conn)
    )
