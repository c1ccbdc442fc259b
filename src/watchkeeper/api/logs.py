"""``/api/v1/logs``: the log records node agents forward, searched newest first; and the
periodic pass that deletes records past their severity's retention."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from watchkeeper.agent.levels import parse_levels
from watchkeeper.api.auth import require
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.params import decode_cursor, encode_cursor, parse_when
from watchkeeper.config import Settings
from watchkeeper.events.fields import normalise_level
from watchkeeper.views import logs

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v1/logs",
    tags=["logs"],
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE, 422),
)


def _bad(name: str, reason: str) -> ApiError:
    return ApiError(422, f"invalid {name}", [{"path": f"query.{name}", "reason": reason}])


def parse_level(value: str | None) -> tuple[frozenset[int] | None, str | None]:
    """``level``: message levels in the agent's syntax (``8``, ``7-9``, ``1,2,20-30``, ``*``),
    or a severity name for that severity and above (``warning``)."""
    if value is None or not value.strip():
        return None, None
    severity = normalise_level(value) if not value.strip()[:1].isdigit() else None
    if severity is not None:
        return None, severity
    try:
        return parse_levels(value).levels, None
    except ValueError as exc:
        reason = f"{exc}; or a severity: debug, info, warning, error, critical"
        raise _bad("level", reason) from None


@router.get("", summary="Search log records, newest first")
def list_logs(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agent: str | None = None,
    job: Annotated[str | None, Query(description="the run's task id")] = None,
    level: Annotated[
        str | None, Query(description="message levels (8, 7-9, 1,2) or a severity and above")
    ] = None,
    since: Annotated[str | None, Query(description="read at or after (ISO, epoch, -1h)")] = None,
    until: Annotated[str | None, Query(description="read at or before")] = None,
    q: Annotated[str | None, Query(description="substring of the message")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict:
    levels, severity = parse_level(level)
    start, end = parse_when("since", since), parse_when("until", until)
    if start is not None and end is not None and start > end:
        raise _bad("since", "must not be after until")
    after = decode_cursor(cursor, numeric_first=True)
    if after is not None and not str(after[1]).isdigit():
        raise _bad("cursor", "not a cursor this server issued")
    f = logs.LogFilter(
        agent=agent or None,
        job=job or None,
        levels=levels,
        severity=severity,
        since=start,
        until=end,
        search=q or None,
    )
    page, next_key = logs.list_logs(conn, f, limit=limit, after=after)
    return {
        "logs": page,
        "next_cursor": encode_cursor(next_key) if next_key is not None else None,
    }


#: Records deleted per transaction, and transactions per pass: a pass never holds the
#: database for long, and a large backlog is worked off over several passes.
PRUNE_CHUNK = 5000
PRUNE_CHUNKS = 20


def prune_once(engine: sa.Engine, settings: Settings, now: float | None = None) -> int:
    """One bounded pass of retention; how many records were deleted."""
    now = time.time() if now is None else now
    total = 0
    for _ in range(PRUNE_CHUNKS):
        with engine.begin() as conn:
            deleted = logs.prune(conn, settings.log_retention, now, PRUNE_CHUNK)
        total += deleted
        if deleted < PRUNE_CHUNK:
            break
    return total


async def keep_retention(engine: sa.Engine, settings: Settings) -> None:
    """Run :func:`prune_once` every ``log_prune_interval`` seconds until cancelled."""
    while True:
        try:
            deleted = await asyncio.to_thread(prune_once, engine, settings)
            if deleted:
                log.info("deleted %d expired log records", deleted)
        except sa.exc.SQLAlchemyError:
            log.exception("log retention pass failed; trying again later")
        await asyncio.sleep(settings.log_prune_interval)
