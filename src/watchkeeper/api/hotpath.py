"""The application class: FastAPI, with the hot routes answered ahead of its middleware.

A single-event ingest request, or one step of a command's round trip to an agent, does a few
tens of microseconds of watchkeeper's own work, and FastAPI's per-request machinery (its
middleware stack — server errors, exceptions, body limit, exit stack — then linear route
matching, dependency solving) costs several times that. Routers name their hot
routes as plain Starlette routes (``FAST_ROUTES``); :class:`App` matches those first, runs the
endpoint, and renders an exception with the same handler the application installed for it
(:mod:`watchkeeper.api.errors`), so a client cannot tell which path answered. Every other
request goes through FastAPI unchanged, and the FastAPI declarations of the hot routes stay
for the OpenAPI document. :func:`hot_route` makes both routes from one declaration, so the
role, path, parameters and endpoint cannot differ between the route that answers and the one
that is documented; :mod:`watchkeeper.api.hotargs` reads the parameters and the body with
FastAPI's checks and refusals.

Ahead of both, every HTTP request passes the :class:`~watchkeeper.api.guard.Guard` (host name,
origin, content type), so no route can skip it; dashboard answers get the guard's page headers.
Every HTTP request's body is bounded here too (:mod:`watchkeeper.api.body`), ahead of both
paths, so no route can forget it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from watchkeeper.api.auth import check, require
from watchkeeper.api.body import bounded
from watchkeeper.api.errors import ApiError
from watchkeeper.api.guard import Guard, Refusal, is_page, with_page_headers
from watchkeeper.api.hotargs import Arguments
from watchkeeper.api.lamia_wire import merged_slashes

#: Renders a refusal for the paths under a prefix that speak another error envelope.
Renderer = Callable[[Request, Exception], Response]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])


#: A check a route's router makes beyond the role (the agent a token is bound to): called with
#: the request and the validated path parameters, it raises to refuse.
Check = Callable[..., Awaitable[None]]


def hot_route(
    router: APIRouter,
    method: str,
    path: str,
    *,
    role: str,
    into: list[Route],
    checks: Sequence[Check] = (),
    render: Renderer | None = None,
    **declaration: Any,
) -> Callable[[Endpoint], Endpoint]:
    """Declare a hot route once: ``router.api_route(path, methods=[method], ...)`` for FastAPI
    and the OpenAPI document, and a Starlette route appended to ``into`` (a router's
    ``FAST_ROUTES``, which :class:`App` answers first).

    The endpoint is declared as for FastAPI (path and query parameters, at most one body
    model, ``request``) and returns a response; on the Starlette route its arguments are read
    by :class:`~watchkeeper.api.hotargs.Arguments`, with FastAPI's checks and refusals. Both
    routes check ``role`` (:func:`~watchkeeper.api.auth.require`), then ``checks`` (which
    FastAPI runs as dependencies of the route, or of its router when they are there already),
    before anything else is read. ``render`` turns an exception of the Starlette route into a
    response where the path speaks an error envelope of its own (otherwise the application's
    handlers do). ``declaration`` goes to ``router.api_route``.
    """

    def register(endpoint: Endpoint) -> Endpoint:
        arguments = Arguments(router.prefix + path, endpoint)

        async def answer(request: Request) -> Response:
            try:
                check(request, role)
                values, errors = arguments.path(request)
                if not errors:
                    for extra in checks:
                        await extra(request, **values)
                more, wrong = await arguments.rest(request)
                if errors or wrong:
                    raise RequestValidationError([*errors, *wrong])
                return await endpoint(request=request, **values, **more)
            except Exception as exc:
                if render is None:
                    raise
                return render(request, exc)

        into.append(Route(router.prefix + path, answer, methods=[method]))
        # FastAPI runs the router's dependencies on each of its routes: declare only the rest.
        on_router = {dependency.dependency for dependency in router.dependencies}
        dependencies = [
            *declaration.pop("dependencies", ()),
            require(role),
            *(Depends(extra) for extra in checks if extra not in on_router),
        ]
        return router.api_route(path, methods=[method], dependencies=dependencies, **declaration)(
            endpoint
        )

    return register


def hot_post(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """:func:`hot_route` for ``POST``."""
    return hot_route(router, "POST", path, **options)


def hot_get(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """:func:`hot_route` for ``GET`` (not ``HEAD``: FastAPI's ``GET`` routes do not answer it)."""
    return hot_route(router, "GET", path, **options)


class App(FastAPI):
    """FastAPI with a short path for the routes in :attr:`hot_routes`."""

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
        # By method, the literal start of each route's path: cheaper to test than its regular
        # expression. Only the method declared: Starlette's GET routes would answer HEAD too.
        self._hot: dict[str, tuple[tuple[str, Route], ...]] = {}
        for route in self.hot_routes:
            method = _declared_method(route)
            prefix = route.path.partition("{")[0]
            self._hot[method] = (*self._hot.get(method, ()), (prefix, route))

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
        for prefix, route in self._hot.get(scope["method"], ()):
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


def _declared_method(route: Route) -> str:
    methods = (route.methods or set()) - {"HEAD"}
    if len(methods) != 1:
        raise ValueError(f"a hot route answers one method, not {sorted(methods)}: {route.path}")
    return methods.pop()
