"""Request bodies, bounded: no route can be made to hold more than ``max_body_bytes`` of one.

:func:`bounded` wraps the ASGI ``receive`` of every HTTP request (the application does it before
any route or middleware runs), so a route that reads its body in any way — Starlette's
``request.body()``, ``request.stream()``, a form — is stopped at the limit without having to
remember to check. A declared ``Content-Length`` over the limit fails the first read, before a
byte of the body is taken; a chunked body fails as soon as the bytes received pass the limit.
The failure is an :class:`~watchkeeper.api.errors.ApiError` 413, rendered in the envelope of
the route that was reading (Lamia's under ``/api/v0``). Routes that expect small bodies (the
login form) ask :func:`read_body` for a smaller limit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message, Receive, Scope

from watchkeeper.api.errors import ApiError


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"body larger than {limit} bytes",
        [{"path": "body", "reason": f"at most {limit} bytes"}],
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def bounded(scope: Scope, receive: Receive, limit: int) -> Receive:
    """``receive`` that raises 413 once the request's body is known to exceed ``limit``."""
    declared = declared_length(scope)
    received = 0

    async def guarded() -> Message:
        nonlocal received
        if declared is not None and declared > limit:
            raise too_large(limit)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return guarded


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` (which
    may be smaller than the server-wide limit :func:`bounded` enforces)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
