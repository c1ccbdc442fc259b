"""Access to the per-app resources routers and pages need: a read connection, and the
settings the view queries take with the time of the request."""

from __future__ import annotations

import time
from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import Request

from watchkeeper.api.params import refuse_nul


def read_conn(request: Request) -> Iterator[sa.Connection]:
    """A read connection for one request (routers never open their own); a parameter the
    database cannot compare is refused before any query."""
    refuse_nul(request)
    with request.app.state.read_engine.connect() as conn:
        yield conn


def liveness_limits(request: Request) -> dict[str, float]:
    """``now`` and the liveness thresholds, as the components view's queries take them."""
    s = request.app.state.settings
    return {"now": time.time(), "stale_after": s.stale_after, "offline_after": s.offline_after}


def group_staleness(request: Request) -> dict[str, float]:
    """``now`` and when a Lamia process counts as stale, as the groups view's queries take them."""
    return {"now": time.time(), "stale_after": request.app.state.settings.lamia_stale_after}
