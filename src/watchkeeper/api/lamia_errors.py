"""``/api/v0``'s refusals in Lamia's envelope ``{"errors": [{"reason", "details"}]}``, for every
failure under ``/api/v0`` including bad parameters, authentication and unknown paths (POST
errors also carry ``"created": false``, as Lamia's did), and the route class that answers them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.responses import JSONResponse
from watchkeeper.events import InvalidBatch
from watchkeeper.events.decode import MalformedBody
from watchkeeper.store.writer import WriterStopped

log = logging.getLogger(__name__)


class LamiaError(Exception):
    """A refusal in Lamia's words: ``reason`` is a sentence, ``details`` what it is about."""

    def __init__(
        self,
        status: int,
        reason: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.errors: Any = [{"reason": reason, "details": details}]
        if param is not None:
            # A bad query parameter, in the shape of the original's query schema errors.
            self.errors = {param: [reason]}
        self.headers = headers


def _field(path: str) -> str:
    """The field a body error is about, as the original's marshmallow schemas named it beside
    their messages (``{"username": ["Not a valid string."]}``): the last name of ``path``
    (``tags`` for ``tags[0]``, ``time`` for ``_meta.time``); ``_schema`` for the body itself,
    marshmallow's name for it."""
    names = [part for part in re.split(r"[.\[\]]", path) if part and not part.isdigit()]
    return names[-1] if names else "_schema"


def lamia_response(request: Request, exc: Exception) -> Response:
    """Any failure of a ``/api/v0`` request, in Lamia's envelope."""
    headers = None
    if isinstance(exc, LamiaError):
        status, errors, headers = exc.status, exc.errors, exc.headers
    elif isinstance(exc, InvalidBatch):
        status = 400
        errors = [
            {"reason": i.reason, "details": {_field(i.path): [i.reason], "path": i.path}}
            for i in exc.issues
        ]
    elif isinstance(exc, MalformedBody):
        status, errors = 400, [{"reason": exc.message, "details": {"path": exc.path}}]
    elif isinstance(exc, RequestValidationError):
        status = 400
        errors = [
            {"reason": e.get("msg", "invalid"), "details": {"path": list(e.get("loc", ()))}}
            for e in exc.errors()
        ]
    elif isinstance(exc, ApiError):
        status, headers = exc.status, exc.headers
        errors = [{"reason": exc.message, "details": exc.details or None}]
    elif isinstance(exc, StarletteHTTPException):
        status, headers = exc.status_code, getattr(exc, "headers", None)
        errors = [{"reason": str(exc.detail), "details": None}]
    elif isinstance(exc, WriterStopped):
        status, headers = 503, {"Retry-After": "1"}
        errors = [{"reason": str(exc), "details": None}]
    else:
        log.exception("unexpected error", exc_info=exc)
        status, errors = 500, [{"reason": "Generic server error.", "details": None}]
    body: dict[str, Any] = {"errors": errors}
    if isinstance(exc, LamiaError) and status in (403, 404) and isinstance(errors, list):
        # The original's 403 and 404 answers were {"error": "<sentence>"}.
        body["error"] = errors[0]["reason"]
    if request.method == "POST":
        body = {"created": False, **body}
    return JSONResponse(body, status_code=status, headers=headers)


class LamiaRoute(APIRoute):
    """Routes whose every error, validation included, is answered by :func:`lamia_response`
    (``/api/v1`` keeps its own envelope)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def lamia_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return lamia_response(request, exc)

        return lamia_handler


class LamiaReason(BaseModel):
    reason: str
    details: Any = None


class LamiaErrors(BaseModel):
    """Lamia's error envelope; ``created`` (false) only in answers to a POST, ``error`` (the
    original's sentence) in a 403 or 404, and ``errors`` as ``{"<parameter>": ["<reason>"]}``
    for a bad query parameter, as the original's query schemas answered."""

    created: bool | None = None
    error: str | None = None
    errors: list[LamiaReason] | dict[str, list[str]]


#: Answers of every /api/v0 route, and of those storing a body; any 4xx is in Lamia's envelope.
LAMIA_ERRORS: dict[int | str, Any] = {
    **responses(400, *ANY_ROUTE, 404, model=LamiaErrors),
    "4XX": {"model": LamiaErrors, "description": "Any refusal, in Lamia's envelope"},
}
LAMIA_WRITE = responses(409, 413, 415, 503, model=LamiaErrors)
