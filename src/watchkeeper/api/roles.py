"""Which role each route of the application needs, read from the routes themselves.

A route declares its role through the dependency that enforces it (:func:`auth.require`,
:func:`auth.public`, the dashboard's ``page_access``); the routes FastAPI and Starlette add
(the OpenAPI document, its viewers, the static files) are listed in :data:`FRAMEWORK`. The
table in ``docs/api.md`` is :func:`markdown` of the sorted :func:`route_roles` (``python -m
watchkeeper.api.roles`` prints it), and a test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from watchkeeper.api.auth import ROLE_ATTR
from watchkeeper.api.routing import iter_routes

#: Routes the frameworks add, which carry no dependency to declare a role with.
FRAMEWORK = {
    "/openapi.json": "public",
    "/docs": "public",
    "/docs/oauth2-redirect": "public",
    "/redoc": "public",
    "/static": "public",
}
#: Only methods a route answers besides HEAD (implied by GET) and OPTIONS are listed.
_IMPLIED = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True, order=True, slots=True)
class RouteRole:
    path: str
    methods: str
    role: str | None  # None: the route declares no role


def route_roles(app: FastAPI) -> list[RouteRole]:
    """Every route of ``app`` with the role it declares, in the order they are matched."""
    rows = []
    for route in iter_routes(app):
        path = route.path
        methods = sorted(set(getattr(route, "methods", None) or ()) - _IMPLIED)
        rows.append(RouteRole(path, ", ".join(methods) or "any", _declared(route, path)))
    return rows


def _declared(route: Any, path: str) -> str | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return FRAMEWORK.get(path)
    roles = {role for role in _roles(dependant.dependencies) if role is not None}
    if len(roles) != 1:
        return None if not roles else "conflict: " + ", ".join(sorted(roles))
    return roles.pop()


def _roles(dependencies: Iterable[Any]) -> Iterator[str | None]:
    for dep in dependencies:
        yield getattr(dep.call, ROLE_ATTR, None)
        yield from _roles(dep.dependencies)


def markdown(rows: Iterable[RouteRole]) -> str:
    lines = ["| method | path | role |", "|---|---|---|"]
    lines += [f"| {r.methods} | `{r.path}` | `{r.role}` |" for r in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from watchkeeper.api.app import create_app

    print(markdown(sorted(route_roles(create_app()))), end="")
