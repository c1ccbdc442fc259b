"""The application class: FastAPI, with the hot POST routes answered ahead of its middleware.

A single-event ingest request does a few tens of microseconds of watchkeeper's own work, and
FastAPI's per-request machinery (its middleware stack — server errors, exceptions, body limit,
exit stack — then linear route matching) costs several times that. Routers name their hot
routes as plain Starlette routes (``FAST_ROUTES``); :class:`App` matches those first, runs the
endpoint, and renders an exception with the same handler the application installed for it
(:mod:`watchkeeper.api.errors`), so a client cannot tell which path answered. Every other
request goes through FastAPI unchanged, and the FastAPI declarations of the hot routes stay
for the OpenAPI document. :func:`hot_post` makes both routes from one declaration, so the role,
path and endpoint cannot differ between the route that answers and the one that is documented.

Ahead of both, every HTTP request passes the :class:`~watchkeeper.api.guard.Guard` (host name,
origin, content type), so no route can skip it; dashboard answers get the guard's page headers.
Every HTTP request's body is bounded here too (:mod:`watchkeeper.api.body`), ahead of both
paths, so no route can forget it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from watchkeeper.api.auth import check, require
from watchkeeper.api.body import bounded
from watchkeeper.api.errors import ApiError
from watchkeeper.api.guard import Guard, Refusal, is_page, with_page_headers
from watchkeeper.api.lamia_wire import merged_slashes

#: Renders a refusal for the paths under a prefix that speak another error envelope.
Renderer = Callable[[Request, Exception], Response]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])


def hot_post(
    router: APIRouter,
    path: str,
    *,
    role: str,
    into: list[Route],
    render: Renderer | None = None,
    **declaration: Any,
) -> Callable[[Endpoint], Endpoint]:
    """Declare a hot ``POST`` route once: ``router.post(path, ...)`` for FastAPI and the OpenAPI
    document, and a Starlette route appended to ``into`` (a router's ``FAST_ROUTES``, which
    :class:`App` answers first).

    The endpoint takes ``request`` and the path parameters by name. Both routes check ``role``
    (:func:`~watchkeeper.api.auth.require`) before it runs. ``render`` turns an exception of
    the Starlette route into a response where the path speaks an error envelope of its own
    (otherwise the application's handlers do). ``declaration`` goes to ``router.post``.
    """

    def register(endpoint: Endpoint) -> Endpoint:
        async def answer(request: Request) -> Response:
            try:
                check(request, role)
                return await endpoint(request=request, **request.path_params)
            except Exception as exc:
                if render is None:
                    raise
                return render(request, exc)

        into.append(Route(router.prefix + path, answer, methods=["POST"]))
        dependencies = [*declaration.pop("dependencies", ()), require(role)]
        return router.post(path, dependencies=dependencies, **declaration)(endpoint)

    return register


class App(FastAPI):
    """FastAPI with a short path for the routes in :attr:`hot_routes` (POST only)."""

    def __init__(
        self,
        *args: Any,
        hot_routes: Sequence[Route] = (),
        guard: Guard | None = None,
        renderers: Sequence[tuple[str, Renderer]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hot_routes = tuple(hot_routes)
        self.guard = guard
        self.renderers = tuple(renderers)
        # The literal start of each route's path: cheaper to test than its regular expression.
        self._prefixes = tuple((route.path.partition("{")[0], route) for route in self.hot_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self.guard is not None:
            refusal = self.guard.refusal(scope)
            if refusal is not None:
                await self._refuse(refusal, scope, receive, send)
                return
        receive = bounded(scope, receive, self.state.settings.max_body_bytes)
        path = scope["path"] = merged_slashes(scope["path"])
        if scope["method"] == "POST":
            for prefix, route in self._prefixes:
                if not path.startswith(prefix):
                    continue
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self
                    await self._answer(route, scope, receive, send)
                    return
        if is_page(path):
            send = with_page_headers(send)
        await super().__call__(scope, receive, send)

    async def _refuse(self, refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        exc = ApiError(
            refusal.status,
            refusal.message,
            [{"path": refusal.path, "reason": refusal.reason}],
            code=refusal.code,
        )
        request = Request(scope, receive)
        for prefix, render in self.renderers:
            if scope["path"].startswith(prefix):
                response = render(request, exc)
                break
        else:
            response = await self._handler_for(exc)(request, exc)
        await response(scope, receive, send)

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
