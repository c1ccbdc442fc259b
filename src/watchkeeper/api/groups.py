"""``/api/v1/groups``: Lamia tasks as task groups, with processes, job slots and progress."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from watchkeeper.api.auth import require
from watchkeeper.api.deps import group_staleness, read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import Int64
from watchkeeper.views import groups

router = APIRouter(
    prefix="/api/v1/groups",
    tags=["groups"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)


@router.get("", summary="List task groups, newest first")
def list_groups(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    tag: Annotated[list[str] | None, Query(description="repeat: groups having every tag")] = None,
    user: str | None = None,
    q: Annotated[str | None, Query(description="substring of the group name")] = None,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    tags = [t.strip() for value in tag or [] for t in value.split(",") if t.strip()]
    items, total = groups.list_groups(
        conn, tags=tags, user=user, search=q, offset=offset, limit=limit, **group_staleness(request)
    )
    return {"groups": items, "total": total}


@router.get(
    "/{name}", responses=responses(404), summary="One group: processes, job slots, progress history"
)
def get_group(
    name: str,
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    history_limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    slots: Annotated[
        int, Query(ge=1, le=10_000, description="job slots per array process, by index")
    ] = 1000,
    proc: Annotated[str | None, Query(description="the process whose slots are paged")] = None,
    first: Annotated[Int64, Query(ge=0, description="its first array index")] = 0,
) -> dict:
    """Each array process lists the slots with an index in ``[0, slots)`` — for ``proc``, in
    ``[first, first + slots)``; ``slot_count`` and ``status_counts`` count every slot."""
    item = groups.get_group(
        conn,
        name,
        history_limit=history_limit,
        slot_limit=slots,
        slot_from={proc: first} if proc is not None else None,
        **group_staleness(request),
    )
    if item is None:
        raise ApiError(404, f"group {name!r} not found")
    return item
