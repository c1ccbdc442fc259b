"""``/healthz`` and ``/metrics`` (Prometheus text exposition of watchkeeper and the fleet)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from watchkeeper import __version__
from watchkeeper.api.auth import public
from watchkeeper.api.errors import responses
from watchkeeper.api.responses import JSONResponse
from watchkeeper.store import eventlog

#: The text format ``generate_latest`` writes, as every Prometheus 2 reads it.
TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["health"], dependencies=[public()])


@router.get(
    "/healthz",
    responses={**responses(421), 503: {"description": "The database cannot be reached"}},
    summary="Liveness and database reachability",
)
def healthz(request: Request) -> JSONResponse:
    try:
        with request.app.state.read_engine.connect() as conn:
            last = eventlog.last_seq(conn)
    except sa.exc.SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "error", "database": str(exc.__class__.__name__)}, status_code=503
        )
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "last_seq": last,
            "database": request.app.state.read_engine.dialect.name,
        }
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses=responses(421, referenced=True),
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    """watchkeeper's own health and the fleet (:mod:`watchkeeper.api.exposition`)."""
    return Response(request.app.state.exposition.render(), media_type=TEXT_0_0_4)
