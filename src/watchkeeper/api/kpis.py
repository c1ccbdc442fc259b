"""KPIs in offspot's shapes (``/api/v1/aggregations``, ``/api/v1/kpis/{id}/values``) and the
health of the inputs that feed them (``/api/v1/inputs``); plus starting those inputs."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request

from watchkeeper.api.auth import require
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import Int64
from watchkeeper.config import Settings
from watchkeeper.inputs.runner import Inputs
from watchkeeper.inputs.settings import parse_inputs, parse_kpis
from watchkeeper.store.writerbase import BaseWriter
from watchkeeper.views import inputs as inputs_view
from watchkeeper.views import kpis

router = APIRouter(
    prefix="/api/v1",
    tags=["kpis"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)
AGG_KIND = "^(D|W|M|Y)$"


@router.get("/aggregations", summary="Every (kind, value) a KPI has a value for")
def aggregations(conn: Annotated[sa.Connection, Depends(read_conn)]) -> dict[str, Any]:
    return {"aggregations": kpis.aggregations(conn)}


@router.get("/aggregations/{agg_kind}", summary="Every KPI value of one aggregation kind")
def aggregation_by_kind(
    agg_kind: Annotated[str, Path(pattern=AGG_KIND)],
    conn: Annotated[sa.Connection, Depends(read_conn)],
) -> dict[str, Any]:
    return kpis.by_kind(conn, agg_kind)


@router.get("/kpis/{kpi_id}/values", responses=responses(404), summary="One KPI's value")
def kpi_value(
    kpi_id: Int64,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agg_kind: Annotated[str, Query(pattern=AGG_KIND)],
    agg_value: Annotated[str, Query(max_length=16)],
) -> dict[str, Any]:
    found = kpis.value(conn, kpi_id, agg_kind, agg_value)
    if found is None:
        raise ApiError(404, "KPI not found")
    return {"kpiId": kpi_id, "value": found}


@router.get("/inputs", summary="Each input's files, offsets, lag, lines per second, parse errors")
def inputs(request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]) -> dict[str, Any]:
    stored = inputs_view.report(conn)
    running: Inputs | None = getattr(request.app.state, "inputs", None)
    live = {item["id"]: item for item in (running.status() if running else [])}
    out = []
    for ident in sorted(set(stored) | set(live)):
        entry = {"id": ident, **live.get(ident, {"running": False})}
        entry.setdefault("running", True)
        entry["committed"] = stored.get(ident, {"files": [], "errorSamples": []})
        entry["parseErrors"] = sum(f["parseErrors"] for f in entry["committed"]["files"])
        out.append(entry)
    return {"inputs": out}


async def start_inputs(settings: Settings, writer: BaseWriter, engine: sa.Engine) -> Inputs | None:
    specs = parse_inputs(list(settings.inputs))
    if not specs:
        return None
    running = Inputs(specs, parse_kpis(settings.kpis or None), writer, engine)
    await running.start()
    return running


async def stop_inputs(running: Inputs | None) -> None:
    if running is not None:
        await running.stop()
