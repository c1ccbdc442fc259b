"""Bearer tokens with roles.

``admin`` may do everything, deleting included; ``ingest`` may send events; ``read`` may query;
``agent`` is the node agent's channel, which sends its events too. With no token configured
(allowed only on loopback, or with ``--insecure``) every request is anonymous and allowed.

Every route declares the role it needs with :func:`require` (or :func:`public`): the
dependency carries the role as :data:`ROLE_ATTR`, from which :mod:`watchkeeper.api.roles`
lists the routes and their roles (and a test fails on a route that declares none).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from watchkeeper.api.errors import ApiError

#: The attribute of a dependency naming the role its route needs ("public": none).
ROLE_ATTR = "watchkeeper_role"
PUBLIC = "public"

#: The cookie the dashboard's login form sets (see ``watchkeeper.ui.access``).
COOKIE = "watchkeeper_token"

GRANTS = {
    "admin": {"admin", "ingest", "read", "agent"},
    "ingest": {"ingest"},
    "read": {"read"},
    "agent": {"agent", "ingest"},
}


def role_of(tokens: dict[str, str], presented: str) -> str | None:
    """The role of ``presented``, compared in constant time against every known token."""
    found = None
    candidate = presented.encode()
    for token, role in tokens.items():
        if hmac.compare_digest(token.encode(), candidate):
            found = role
    return found


def check(request: Request, needed: str) -> None:
    tokens: dict[str, str] = request.app.state.settings.tokens
    if not tokens:
        return
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header and request.method in ("GET", "HEAD") and COOKIE in request.cookies:
        # The dashboard's login cookie (a browser's EventSource cannot send a header). Only for
        # reads: a cross-site form can make a browser send it, but never to ingest or command.
        scheme, value = "bearer", request.cookies[COOKIE]
    if scheme.lower() != "bearer" or not value:
        raise ApiError(
            401,
            "a bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="watchkeeper"'},
        )
    role = role_of(tokens, value.strip())
    if role is None:
        role = _agent_token(request, value.strip())
    if role is None:
        raise ApiError(
            401, "unknown token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if needed not in GRANTS[role]:
        raise ApiError(403, f"this token's role ({role}) may not {needed}")


def _agent_token(request: Request, token: str) -> str | None:
    """An agent's own token (``watchkeeper token create --agent``): the ``agent`` role, bound
    to that agent (``request.state.bound_agent``)."""
    registry = getattr(request.app.state, "agent_tokens", None)
    bound = registry.lookup(token) if registry is not None else None
    if bound is None:
        return None
    request.state.bound_agent = bound
    return "agent"


def declares(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a dependency as the one that decides its routes' role."""
    if role != PUBLIC and role not in GRANTS:
        raise ValueError(f"unknown role {role!r}")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, ROLE_ATTR, role)
        return fn

    return mark


def require(needed: str) -> Any:
    # async so FastAPI calls it on the event loop instead of hopping to a worker thread.
    @declares(needed)
    async def dependency(request: Request) -> None:
        check(request, needed)

    dependency.__name__ = f"require_{needed}"
    return Depends(dependency)


@declares(PUBLIC)
async def _public() -> None:
    """Open to anyone, with or without tokens."""


def public() -> Any:
    return Depends(_public)
