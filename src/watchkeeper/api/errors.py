"""One error envelope everywhere: ``{"error": {"code", "message", "details": [{path, reason}]}}``.

Bad input is always a 4xx naming the field; an unexpected failure is a 500 with no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from watchkeeper.api.responses import JSONResponse
from watchkeeper.api.routing import allowed_methods
from watchkeeper.events import InvalidBatch, Issue
from watchkeeper.events.decode import MalformedBody
from watchkeeper.store.writerbase import WriterStopped

log = logging.getLogger(__name__)

CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    421: "misdirected",
    422: "invalid",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


#: What each error status means, for the OpenAPI document.
MEANINGS = {
    400: "Malformed: the body is not JSON, or a parameter is not of its form",
    401: "No token, or an unknown one (only when tokens are configured)",
    403: "The token's role may not do this, or a cross-origin request would change something",
    404: "No such resource",
    405: "The path exists, the method does not (see Allow)",
    409: "Conflict with what is stored",
    413: "The body is larger than max_body_bytes",
    415: "The body is neither JSON nor NDJSON",
    421: "The Host header names a host this server does not serve",
    422: "Invalid: details lists every bad field with its path",
    429: "Too many waiting: a queue's limit is reached; retry later",
    503: "Shutting down, or the writer stopped mid-request: retry (nothing was half stored)",
}


class ErrorDetail(BaseModel):
    path: str
    reason: str
    index: int | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorEnvelope(BaseModel):
    """``{"error": {"code", "message", "details": [{"path", "reason"}]}}``"""

    error: ErrorBody


#: Answers any request may get: a parameter holding NUL, tokens, and a host name the server
#: does not serve.
ANY_ROUTE = (400, 401, 403, 421)
#: Answers of a request with a body to store.
WITH_BODY = (400, 413, 415, 422, 503)


def responses(
    *statuses: int, model: type[BaseModel] = ErrorEnvelope, referenced: bool = False
) -> dict[int | str, Any]:
    """The ``responses=`` of a route or router answering ``statuses`` in ``model``.

    FastAPI documents a model under the route's own media type; a route whose answers are not
    JSON (``/metrics``) takes ``referenced=True``: the schema by reference, as JSON (the model
    is in the document's components as long as another route uses it)."""
    if not referenced:
        return {status: {"model": model, "description": MEANINGS[status]} for status in statuses}
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        status: {
            "description": MEANINGS[status],
            "content": {"application/json": {"schema": schema}},
        }
        for status in statuses
    }


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: Sequence[Issue | dict] = (),
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.details = [d.as_dict() if isinstance(d, Issue) else d for d in details]
        self.headers = headers


def envelope(
    status: int,
    message: str,
    details: Sequence[dict[str, Any]] = (),
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message,
            "details": list(details),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _loc_path(loc: Sequence[Any]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return envelope(exc.status, exc.message, exc.details, exc.code, exc.headers)

    @app.exception_handler(InvalidBatch)
    async def _invalid(_: Request, exc: InvalidBatch) -> JSONResponse:
        details = [{**issue.as_dict(), **_index(issue.path)} for issue in exc.issues]
        return envelope(422, f"{len(exc.issues)} invalid field(s); nothing was stored", details)

    @app.exception_handler(MalformedBody)
    async def _malformed(_: Request, exc: MalformedBody) -> JSONResponse:
        return envelope(400, exc.message, [{"path": exc.path, "reason": exc.message}])

    @app.exception_handler(WriterStopped)
    async def _stopping(_: Request, exc: WriterStopped) -> JSONResponse:
        return envelope(503, str(exc), headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"path": _loc_path(err.get("loc", ())), "reason": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        return envelope(422, "invalid request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allowed = allowed_methods(request.app, request.url.path)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return envelope(exc.status_code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return envelope(500, "internal error")


def _index(path: str) -> dict[str, int]:
    if path.startswith("["):
        end = path.find("]")
        if end > 1 and path[1:end].isdigit():
            return {"index": int(path[1:end])}
    return {}
