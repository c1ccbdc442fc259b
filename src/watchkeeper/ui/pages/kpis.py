"""KPIs (period selector, popularity, usage over time, uptime and shared files) and Inputs
(the health of the followed files), both live."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from starlette.responses import Response

from watchkeeper.api.deps import read_conn
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import render
from watchkeeper.views import inputs as inputs_view
from watchkeeper.views import kpis

NAV = (
    NavEntry("kpis", "KPIs", "/kpis", order=90, windowed=False),
    NavEntry("inputs", "Inputs", "/inputs", order=91, windowed=False),
)
router = page_router()
KINDS = {"D": "Daily", "W": "Weekly", "M": "Monthly", "Y": "Yearly"}


def _kpi_context(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    kind: Annotated[str, Query(pattern="^(D|W|M|Y)$")] = "D",
    value: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    data = kpis.by_kind(conn, kind)
    available = data["valuesAvailable"]
    chosen = value if value in available else (available[-1] if available else None)
    by_id = {k["kpiId"]: {v["aggValue"]: v["kpiValue"] for v in k["values"]} for k in data["kpis"]}
    current = {kpi_id: values.get(chosen) for kpi_id, values in by_id.items()}
    popularity = current.get(2001) or {"items": [], "totalVisits": 0}
    top = max((i["visits"] for i in popularity["items"]), default=0)
    usage = [
        (v, (by_id.get(2003, {}).get(v) or {}).get("totalMinutesActivity", 0))
        for v in data["valuesAll"]
    ]
    return {
        "kinds": KINDS,
        "kind": kind,
        "value": chosen,
        "available": available,
        "popularity": popularity,
        "top": top,
        "usage": usage,
        "usage_top": max((n for _, n in usage), default=0),
        "uptime": current.get(2004),
        "shared": current.get(2005),
        "packages_usage": (current.get(2003) or {}).get("items", []),
    }


def _inputs_context(
    request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> dict[str, Any]:
    stored = inputs_view.report(conn)
    running = getattr(request.app.state, "inputs", None)
    live = {i["id"]: i for i in (running.status() if running else [])}
    rows = []
    for ident in sorted(set(stored) | set(live)):
        committed = stored.get(ident, {"files": [], "errorSamples": []})
        rows.append({"id": ident, "live": live.get(ident), **committed})
    return {"inputs": rows}


KpiContext = Annotated[dict[str, Any], Depends(_kpi_context)]
InputsContext = Annotated[dict[str, Any], Depends(_inputs_context)]


@router.get("/kpis")
def kpi_page(request: Request, context: KpiContext) -> Response:
    return render(request, "kpis.html", active="kpis", title="KPIs", **context)


@router.get("/partials/kpis")
def kpi_part(request: Request, context: KpiContext) -> Response:
    return render(request, "_kpis_live.html", active="kpis", title="", **context)


@router.get("/inputs")
def inputs_page(request: Request, context: InputsContext) -> Response:
    return render(request, "inputs.html", active="inputs", title="Inputs", **context)


@router.get("/partials/inputs")
def inputs_part(request: Request, context: InputsContext) -> Response:
    return render(request, "_inputs_live.html", active="inputs", title="", **context)
