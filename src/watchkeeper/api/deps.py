"""Access to the per-app resources routers need (read engine, writer, settings)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import Request

from watchkeeper.api.params import refuse_nul
from watchkeeper.config import Settings


def settings(request: Request) -> Settings:
    return request.app.state.settings


def read_conn(request: Request) -> Iterator[sa.Connection]:
    """A read connection for one request (routers never open their own); a parameter the
    database cannot compare is refused before any query."""
    refuse_nul(request)
    with request.app.state.read_engine.connect() as conn:
        yield conn
