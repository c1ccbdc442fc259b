"""Logs: the log records node agents forward, searched by level, agent, job, text and time,
newest first and live; and one agent's programs with its last log lines (on its page)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.responses import Response

from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ApiError
from watchkeeper.api.logs import parse_level
from watchkeeper.api.params import decode_cursor, encode_cursor
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import PageError, page_window, render
from watchkeeper.views import logs, programs

NAV = (NavEntry("logs", "Logs", "/logs", order=65),)
router = page_router()

PAGE = 100
#: Log lines shown on an agent's page.
AGENT_LINES = 30


def _list_context(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    agent: str | None = None,
    job: str | None = None,
    level: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """What the list and its live partial show: one page of records with the URL's filters
    (a dependency of both)."""
    win = page_window(request)
    try:
        levels, severity = parse_level(level)
        after = decode_cursor(cursor, numeric_first=True)
        if after is not None and not str(after[1]).isdigit():
            raise ApiError(422, "invalid cursor")
    except ApiError as exc:
        reason = exc.details[0]["reason"] if exc.details else exc.message
        raise PageError(422, f"{exc.message}: {reason}") from None
    f = logs.LogFilter(
        agent=agent or None,
        job=job or None,
        levels=levels,
        severity=severity,
        since=win.start,
        until=win.end,
        search=q or None,
    )
    page, next_key = logs.list_logs(conn, f, limit=PAGE, after=after)
    return {
        "window": win,
        "records": page,
        "next_cursor": encode_cursor(next_key) if next_key is not None else None,
        "filters": {"agent": agent or "", "job": job or "", "level": level or "", "q": q or ""},
    }


ListContext = Annotated[dict[str, Any], Depends(_list_context)]


@router.get("/logs")
def log_list(request: Request, context: ListContext) -> Response:
    return render(request, "logs.html", active="logs", title="Logs", **context)


@router.get("/partials/logs")
def log_list_part(request: Request, context: ListContext) -> Response:
    """The table alone, re-fetched by the page as records arrive."""
    return render(request, "_logs_live.html", active="logs", title="", **context)


def agent_programs(conn: sa.Connection, agent_id: str) -> dict[str, Any]:
    """An agent's programs and its last log lines, for its page and the page's live part."""
    lines, _ = logs.list_logs(conn, logs.LogFilter(agent=agent_id), limit=AGENT_LINES)
    return {"programs": programs.for_agent(conn, agent_id), "lines": lines}


@router.get("/partials/agent-programs/{agent_id:path}")
def agent_programs_part(
    agent_id: str, request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> Response:
    """An agent's programs and last log lines, re-fetched by its page as it reports."""
    return render(
        request,
        "_agent_programs_live.html",
        active="agents",
        title="",
        agent_id=agent_id,
        **agent_programs(conn, agent_id),
    )
