"""Status per component instance (chart 4): one lane per agent, producer, lift..., with the
current state and liveness of each."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.responses import Response

from watchkeeper.api.deps import liveness_limits, read_conn
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import page_window, render
from watchkeeper.views import components

NAV = (NavEntry("components", "Components", "/components", order=40),)
router = page_router()

#: Lanes per page of the timeline.
LANES = 20


@router.get("/components")
def component_status(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    type: str | None = None,
) -> Response:
    every = components.list_components(conn, **liveness_limits(request))
    types = sorted({c["type"] for c in every})
    shown = [c for c in every if not type or c["type"] == type]
    return render(
        request,
        "components.html",
        active="components",
        title="Components",
        window=page_window(request, lambda: components.latest_activity(conn)),
        types=types,
        type=type or "",
        instances=shown,
        lanes=LANES,
    )
