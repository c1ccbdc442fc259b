"""Bearer tokens with roles.

``admin`` may do everything; ``ingest`` may send events; ``read`` may query; ``agent`` is the
node agent's channel, which sends its events too. With no token configured (allowed only on
loopback, or with ``--insecure``) every request is anonymous and allowed.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, Request

from watchkeeper.api.errors import ApiError

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
        raise ApiError(
            401, "unknown token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if needed not in GRANTS[role]:
        raise ApiError(403, f"this token's role ({role}) may not {needed}")


def require(needed: str) -> Any:
    # async so FastAPI calls it on the event loop instead of hopping to a worker thread.
    async def dependency(request: Request) -> None:
        check(request, needed)

    dependency.__name__ = f"require_{needed}"
    return Depends(dependency)
