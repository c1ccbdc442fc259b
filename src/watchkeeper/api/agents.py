"""``/api/v1/agents`` and ``/api/v1/components``: the fleet's instances and their states."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from watchkeeper.api.auth import require
from watchkeeper.api.deps import liveness_limits, read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import Int64
from watchkeeper.views import components

router = APIRouter(
    prefix="/api/v1",
    tags=["agents"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)

Liveness = Literal["online", "stale", "offline"]
Offset = Annotated[Int64, Query(ge=0)]
#: One page of instances; ``total`` counts them all.
Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/agents", summary="List agents")
def list_agents(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    state: str | None = None,
    liveness: Liveness | None = None,
    offset: Offset = 0,
    limit: Limit = 1000,
) -> dict:
    items = components.list_components(
        conn, type="agent", state=state, liveness_is=liveness, **liveness_limits(request)
    )
    return {"agents": items[offset : offset + limit], "total": len(items)}


@router.get(
    "/agents/{agent_id}",
    responses=responses(404),
    summary="One agent: state, history, pings, tasks processed",
)
def get_agent(
    agent_id: str, request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> dict:
    item = components.get_component(conn, "agent", agent_id, **liveness_limits(request))
    if item is None:
        raise ApiError(404, f"agent {agent_id!r} not found")
    return item


@router.get("/components", summary="List components of every type")
def list_components(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    type: str | None = None,
    state: str | None = None,
    liveness: Liveness | None = None,
    offset: Offset = 0,
    limit: Limit = 1000,
) -> dict:
    items = components.list_components(
        conn, type=type, state=state, liveness_is=liveness, **liveness_limits(request)
    )
    return {"components": items[offset : offset + limit], "total": len(items)}


@router.get("/components/{ctype}/{cid}", responses=responses(404), summary="One component instance")
def get_component(
    ctype: str, cid: str, request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> dict:
    item = components.get_component(conn, ctype, cid, **liveness_limits(request))
    if item is None:
        raise ApiError(404, f"component {ctype}/{cid} not found")
    return item
