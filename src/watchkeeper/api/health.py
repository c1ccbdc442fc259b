"""``/healthz`` and ``/metrics`` (Prometheus text exposition of watchkeeper itself)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from watchkeeper import __version__
from watchkeeper.api.auth import public
from watchkeeper.api.errors import responses
from watchkeeper.api.live import stream_metrics
from watchkeeper.api.responses import JSONResponse
from watchkeeper.store import eventlog

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
def metrics(request: Request) -> PlainTextResponse:
    writer = request.app.state.writer
    lines = [
        "# HELP watchkeeper_events_committed_total Events committed to the log by this process.",
        "# TYPE watchkeeper_events_committed_total counter",
        f"watchkeeper_events_committed_total {writer.committed_events}",
        "# HELP watchkeeper_commits_total Transactions committed by the writer.",
        "# TYPE watchkeeper_commits_total counter",
        f"watchkeeper_commits_total {writer.commits}",
        "# HELP watchkeeper_last_seq Highest committed event sequence number.",
        "# TYPE watchkeeper_last_seq gauge",
        f"watchkeeper_last_seq {request.app.state.hub.latest}",
        *stream_metrics(request.app.state),
    ]
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )
