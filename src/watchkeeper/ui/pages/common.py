"""What page routers share: the router factory and the liveness limits."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from watchkeeper.ui.access import PAGE_ACCESS


def page_router() -> APIRouter:
    """A router for pages: behind the read check, and kept out of the OpenAPI document."""
    return APIRouter(include_in_schema=False, dependencies=[PAGE_ACCESS])


def limits(request: Request) -> dict[str, float]:
    """``now`` and the liveness thresholds, as the components view's queries take them."""
    s = request.app.state.settings
    return {"now": time.time(), "stale_after": s.stale_after, "offline_after": s.offline_after}
