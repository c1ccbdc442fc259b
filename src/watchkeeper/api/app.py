"""Build the ASGI application: engines, migrations, the writer, routers and error handling."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from watchkeeper import __version__, ui
from watchkeeper.api import (
    agent_channel,
    agents,
    charts,
    cmdsetup,
    commands,
    errors,
    events,
    groups,
    health,
    incidents,
    kpis,
    lamia,
    logs,
    metrics,
    state,
    statsd,
    tasks,
)
from watchkeeper.api.exposition import Exposition
from watchkeeper.api.guard import Guard
from watchkeeper.api.hotpath import App
from watchkeeper.config import Settings
from watchkeeper.inputs import statsd as statsd_input
from watchkeeper.store import db, eventlog, rebuild
from watchkeeper.store.agenttokens import AgentTokens
from watchkeeper.store.hub import CommitHub
from watchkeeper.store.writer import Writer
from watchkeeper.store.writerbase import BaseWriter
from watchkeeper.store.writerproc import ProcessWriter
from watchkeeper.views import ALL_VIEWS, ALL_VIEWS_REF

#: Every router of the server; a new resource family adds its router here.
ROUTERS: Sequence[APIRouter] = (
    health.router,
    events.router,
    lamia.router,
    tasks.router,
    agents.router,
    incidents.router,
    charts.router,
    groups.router,
    state.router,
    logs.router,
    commands.router,
    agent_channel.router,
    metrics.router,
    statsd.router,
    kpis.router,
)


def _no_request_telemetry() -> dict[str, object]:
    """Newer FastAPI checks for OpenTelemetry on every request; watchkeeper exports its own
    metrics, so turn that check off where the option exists."""
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False, "metrics": False}}
    return {}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        write_engine = db.make_engine(
            settings.db, writer=True, synchronous=settings.sqlite_synchronous
        )
        read_engine = db.make_engine(settings.db, synchronous=settings.sqlite_synchronous)
        db.upgrade(write_engine)
        rebuild.heal(write_engine, ALL_VIEWS)  # once, after events were moved aside
        hub = CommitHub()
        with read_engine.connect() as conn:
            hub.latest = eventlog.last_seq(conn)
        writer: BaseWriter
        if settings.writer == "process":
            writer = ProcessWriter(
                write_engine,
                ALL_VIEWS_REF,
                synchronous=settings.sqlite_synchronous,
                on_commit=hub.committed,
            )
        else:
            writer = Writer(write_engine, ALL_VIEWS, on_commit=hub.committed)
        await writer.start()
        app.state.read_engine = read_engine
        app.state.writer = writer
        app.state.hub = hub
        app.state.exposition = Exposition(app.state)
        app.state.exposition.instrument(writer)
        app.state.agent_tokens = AgentTokens(read_engine)
        app.state.commands = cmdsetup.open_queue(app, settings)
        await app.state.commands.start()
        app.state.statsd = statsd_input.start(settings, writer.write)
        app.state.inputs = await kpis.start_inputs(settings, writer, read_engine)
        pruner = asyncio.create_task(logs.keep_retention(write_engine, settings))
        try:
            yield
        finally:
            pruner.cancel()
            await kpis.stop_inputs(app.state.inputs)
            await app.state.statsd.stop()
            await app.state.commands.close()
            await writer.stop()
            write_engine.dispose()
            read_engine.dispose()

    app = App(
        **_no_request_telemetry(),
        hot_routes=[
            *events.FAST_ROUTES,
            *commands.FAST_ROUTES,
            *agent_channel.FAST_ROUTES,
            *lamia.FAST_ROUTES,
        ],
        guard=Guard(settings.host, settings.allowed_hosts),
        renderers=[(lamia.PREFIX, lamia.lamia_response)],
        title="watchkeeper",
        version=__version__,
        description="A self-hosted monitor for distributed work.",
        # The dashboard serves /docs and /redoc from local assets (watchkeeper.ui.apidocs).
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    ui.mount(app)  # the dashboard's pages and static files
    return app
