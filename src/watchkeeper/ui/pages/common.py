"""What page routers share: the router factory and the liveness limits."""

from __future__ import annotations

from fastapi import APIRouter

from watchkeeper.ui.access import PAGE_ACCESS


def page_router() -> APIRouter:
    """A router for pages: behind the read check, and kept out of the OpenAPI document."""
    return APIRouter(include_in_schema=False, dependencies=[PAGE_ACCESS])
