"""``/api/v1/incidents``: what agents reported when something went wrong."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from watchkeeper.api.auth import require
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import Int64, parse_when
from watchkeeper.views import incidents

router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["incidents"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)


@router.get("", summary="List incidents, newest first")
def list_incidents(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agent: str | None = None,
    task: str | None = None,
    since: str | None = None,
    until: str | None = None,
    fingerprint: str | None = None,
    q: Annotated[str | None, Query(description="search message and last state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[Int64 | None, Query(ge=1)] = None,
) -> dict:
    items, total = incidents.list_incidents(
        conn,
        agent=agent,
        task=task,
        since=parse_when("since", since),
        until=parse_when("until", until),
        fingerprint=fingerprint,
        search=q,
        limit=limit,
        before_id=before_id,
    )
    return {"incidents": items, "total": total}


@router.get("/groups", summary="Incidents grouped by fingerprint")
def groups(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """The ``limit`` largest groups; ``total`` counts them all."""
    found = incidents.groups(
        conn, since=parse_when("since", since), until=parse_when("until", until)
    )
    return {"groups": found[:limit], "total": len(found)}


@router.get("/{incident_id}", responses=responses(404), summary="One incident")
def get_incident(incident_id: Int64, conn: Annotated[sa.Connection, Depends(read_conn)]) -> dict:
    item = incidents.get_incident(conn, incident_id)
    if item is None:
        raise ApiError(404, f"incident {incident_id} not found")
    return item
