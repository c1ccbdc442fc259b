"""``/api/v1/metrics/statsd``: statsd lines over HTTP (the same text as the UDP input, into the
same aggregator), and the input's counters."""

from __future__ import annotations

from fastapi import APIRouter, Request

from watchkeeper.api.auth import require
from watchkeeper.api.body import read_body
from watchkeeper.api.errors import ANY_ROUTE, responses
from watchkeeper.api.responses import JSONResponse

router = APIRouter(prefix="/api/v1/metrics/statsd", tags=["metrics"])

#: Refusal reasons answered per request; the rest are only counted.
ERRORS_SHOWN = 10


@router.post(
    "",
    status_code=202,
    dependencies=[require("ingest")],
    responses=responses(*ANY_ROUTE, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    summary="Send statsd lines",
)
async def send(request: Request) -> JSONResponse:
    """Lines as a statsd daemon reads them (``key:value|type[|@rate][|#tag:value]``, one per
    line), aggregated with the UDP input's and stored at its next flush. Malformed lines are
    skipped, counted and reported (the first few reasons), never failing the rest."""
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    text = body.decode("utf-8", "replace")
    taken, refused, errors = request.app.state.statsd.feed(text)
    return JSONResponse(
        {"accepted": taken, "malformed": refused, "errors": errors[:ERRORS_SHOWN]},
        status_code=202,
    )


@router.get(
    "",
    dependencies=[require("read")],
    responses=responses(*ANY_ROUTE),
    summary="The statsd input's counters",
)
def status(request: Request) -> JSONResponse:
    """Packets and lines received, lines refused (with the latest reasons), keys dropped over
    the per-flush bound, flushes and series stored, the UDP port and its receive buffer."""
    return JSONResponse(request.app.state.statsd.status())
