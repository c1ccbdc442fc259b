"""``/api/v1/metrics``: metric series over time, and the names there are.

The resolution follows the window: without ``step`` a window is cut into about
:data:`TARGET_POINTS` buckets of a round width, and the rows read are those of the coarsest
stored resolution (raw, minute, hour) no wider than a bucket, so a year of a series costs as
much to read as an hour.
"""

from __future__ import annotations

import time
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from watchkeeper.api.auth import require
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import window
from watchkeeper.events.metric import MAX_NAME, tags_reason
from watchkeeper.views import metrics

router = APIRouter(
    prefix="/api/v1/metrics",
    tags=["metrics"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)

TARGET_POINTS = 300
#: Bucket widths a chosen step is rounded up to, in seconds (then whole days).
ROUND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)

Name = Annotated[str, Query(min_length=1, max_length=MAX_NAME, description="series name")]
Agent = Annotated[str | None, Query(max_length=200, description="the agent's id")]


def auto_step(span: float) -> float:
    """A round bucket width that cuts ``span`` seconds into about :data:`TARGET_POINTS`."""
    wanted = span / TARGET_POINTS
    for step in ROUND_STEPS:
        if step >= wanted:
            return float(step)
    return 86400.0 * -(-wanted // 86400)


def parse_tags(text: str | None) -> dict[str, str]:
    """``tags=k:v,k2:v2`` (DogStatsD's spelling) as a dict, or 422 naming the parameter."""
    if not text:
        return {}
    tags = {}
    for part in text.split(","):
        key, sep, value = part.partition(":")
        if not sep or not key:
            raise ApiError(
                422,
                "invalid tags",
                [{"path": "query.tags", "reason": f"expected key:value pairs, got {part[:40]!r}"}],
            )
        tags[key] = value
    reason = tags_reason(tags)
    if reason is not None:
        raise ApiError(422, "invalid tags", [{"path": "query.tags", "reason": reason}])
    return tags


@router.get("/series", summary="One metric over time, per agent and tags")
def series(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    name: Name,
    agent: Agent = None,
    tags: Annotated[str | None, Query(description="k:v,k2:v2 (all must match)")] = None,
    since: str | None = None,
    until: str | None = None,
    step: Annotated[
        float | None, Query(ge=1, allow_inf_nan=False, description="bucket seconds")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="most series answered")] = 100,
) -> dict:
    """Each matching series as buckets of ``step`` seconds: ``ts`` (the bucket's start), ``avg``,
    ``min``, ``max``, ``sum`` and ``count`` of the samples in it (a counter's rate is
    ``sum / step``). Without ``step`` it is chosen from the window (default: the last hour)."""
    wanted = parse_tags(tags)
    start, end = window(since, until)
    span = max(end - start, 1.0)
    step = auto_step(span) if step is None else step
    most = request.app.state.settings.max_buckets
    if span / step > most:
        raise ApiError(
            422,
            "too many buckets",
            [{"path": "query.step", "reason": f"the window holds more than {most} buckets"}],
        )
    res = metrics.resolution(start, step, time.time())
    found = metrics.find_series(conn, name, agent=agent, tags=wanted, limit=limit + 1)
    out = [
        {
            "agent": item["agent"],
            "tags": item["tags"],
            "points": metrics.points(conn, item["id"], res=res, since=start, until=end, step=step),
        }
        for item in found[:limit]
    ]
    return {
        "name": name,
        "since": start,
        "until": end,
        "step": step,
        "resolution": res,
        "series": out,
        "truncated": len(found) > limit,
    }


@router.get("/names", summary="The metric names there are")
def names(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agent: Agent = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict:
    """Names in order, each with how many series (agents × tags) carry it and the time of
    their latest sample; ``total`` counts the names that match."""
    items, total = metrics.names(conn, agent=agent, q=q, limit=limit)
    return {"names": items, "total": total}
