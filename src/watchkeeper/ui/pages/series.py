"""The Metrics page: one metric series over the window (a name picked with search), per agent
and tag set, the step chosen from the window, live."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import page_window, render

# Not /metrics: that is the Prometheus exposition.
NAV = (NavEntry("series", "Metrics", "/series", order=75),)
router = page_router()


@router.get("/series")
def series(request: Request, name: str = "") -> Response:
    return render(
        request,
        "series.html",
        active="series",
        title="Metrics",
        window=page_window(request),
        name=name[:200],
    )
