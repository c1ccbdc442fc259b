"""Walking the application's routes, whichever way this FastAPI stores included routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from starlette.routing import compile_path

try:  # FastAPI >= 0.160 keeps included routers as branches of the route tree
    from fastapi.routing import iter_route_contexts as _iter_routes
except ImportError:  # pragma: no cover - older FastAPI lists every route flat

    def _iter_routes(routes: Any) -> Iterator[Any]:
        return iter(routes)


def iter_routes(app: FastAPI) -> Iterator[Any]:
    """Every route of ``app`` with its full path (``.path``, ``.methods``, ``.dependant``)."""
    return _iter_routes(app.routes)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods some route of ``app`` answers at ``path`` (for ``Allow``): Starlette names
    only those of the first route whose path matches, not every route of that path."""
    methods: set[str] = set()
    for route in iter_routes(app):
        if route.path and compile_path(route.path)[0].match(path):
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)
