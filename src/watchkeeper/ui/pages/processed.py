"""Tasks processed per agent (chart 3): finished, failed and aborted over the window, sortable."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.responses import Response

from watchkeeper.api.deps import read_conn
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import PageError, page_window, render
from watchkeeper.views import tasks
from watchkeeper.views.tasks import PROCESSED_SORTS

NAV = (NavEntry("processed", "Per agent", "/processed", order=30),)
router = page_router()

#: Agents per page: more bars than this do not fit a screen.
ROWS = 40


@router.get("/processed")
def processed(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    sort: str = "-total",
) -> Response:
    if sort.lstrip("-") not in PROCESSED_SORTS:
        raise PageError(422, f"invalid sort {sort!r}: one of {', '.join(PROCESSED_SORTS)}")
    return render(
        request,
        "processed.html",
        active="processed",
        title="Tasks processed per agent",
        window=page_window(request, lambda: tasks.latest_activity(conn)),
        sort=sort,
        sorts=PROCESSED_SORTS,
        rows=ROWS,
    )
