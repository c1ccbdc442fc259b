"""The application class: FastAPI, with the hot POST routes answered ahead of its middleware.

A single-event ingest request does a few tens of microseconds of watchkeeper's own work, and
FastAPI's per-request machinery (its middleware stack — server errors, exceptions, body limit,
exit stack — then linear route matching) costs several times that. Routers name their hot
routes as plain Starlette routes (``FAST_ROUTES``); :class:`App` matches those first, runs the
endpoint, and renders an exception with the same handler the application installed for it
(:mod:`watchkeeper.api.errors`), so a client cannot tell which path answered. Every other
request goes through FastAPI unchanged, and the FastAPI declarations of the hot routes stay
for the OpenAPI document.

Every HTTP request's body is bounded here too (:mod:`watchkeeper.api.body`), ahead of both
paths, so no route can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from watchkeeper.api.body import bounded


class App(FastAPI):
    """FastAPI with a short path for the routes in :attr:`hot_routes` (POST only)."""

    def __init__(self, *args: Any, hot_routes: Sequence[Route] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hot_routes = tuple(hot_routes)
        # The literal start of each route's path: cheaper to test than its regular expression.
        self._prefixes = tuple((route.path.partition("{")[0], route) for route in self.hot_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = bounded(scope, receive, self.state.settings.max_body_bytes)
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            for prefix, route in self._prefixes:
                if not path.startswith(prefix):
                    continue
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self
                    await self._answer(route, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _answer(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Any:
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None
