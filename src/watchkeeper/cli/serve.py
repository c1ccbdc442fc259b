"""``watchkeeper serve``: the server's settings from options, environment and config file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from types import FrameType
from typing import Annotated, Any

import typer
from rich.markup import escape

from watchkeeper import __version__
from watchkeeper.cli.options import ConfigOpt, DbOpt, err
from watchkeeper.config import (
    DEFAULT_DB,
    ConfigError,
    Settings,
    parse_retention,
    parse_roles,
    tokens_from,
)

#: The server's defaults, as ``Settings`` declares them: ``serve``'s options show and use these.
DEFAULTS = Settings()


def serve(
    ctx: typer.Context,
    config: ConfigOpt = None,
    db: DbOpt = DEFAULT_DB,
    host: Annotated[str, typer.Option(envvar="WATCHKEEPER_HOST")] = DEFAULTS.host,
    port: Annotated[int, typer.Option(envvar="WATCHKEEPER_PORT", min=1, max=65535)] = DEFAULTS.port,
    insecure: Annotated[
        bool,
        typer.Option(envvar="WATCHKEEPER_INSECURE", help="Allow anonymous access off loopback."),
    ] = DEFAULTS.insecure,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WATCHKEEPER_ALLOWED_HOSTS",
            help="A host name the server answers for besides loopback and its own address: "
            "NAME, .DOMAIN (and every name under it) or * (repeatable).",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option(envvar="WATCHKEEPER_MAX_BODY_BYTES", min=1)
    ] = DEFAULTS.max_body_bytes,
    max_buckets: Annotated[
        int,
        typer.Option(envvar="WATCHKEEPER_MAX_BUCKETS", min=1, help="Most buckets a chart answers."),
    ] = DEFAULTS.max_buckets,
    max_spans: Annotated[
        int,
        typer.Option(envvar="WATCHKEEPER_MAX_SPANS", min=1, help="Most spans a chart answers."),
    ] = DEFAULTS.max_spans,
    stream_backlog_bytes: Annotated[
        int,
        typer.Option(
            envvar="WATCHKEEPER_STREAM_BACKLOG_BYTES",
            min=1,
            help="Bytes a live-stream client may fall behind before it is disconnected.",
        ),
    ] = DEFAULTS.stream_backlog_bytes,
    stale_after: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_STALE_AFTER", min=0, help="Seconds of silence before stale."
        ),
    ] = DEFAULTS.stale_after,
    offline_after: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_OFFLINE_AFTER", min=0, help="Seconds of silence before offline."
        ),
    ] = DEFAULTS.offline_after,
    sqlite_synchronous: Annotated[
        str,
        typer.Option(envvar="WATCHKEEPER_SQLITE_SYNCHRONOUS", help="SQLite synchronous pragma."),
    ] = DEFAULTS.sqlite_synchronous,
    writer: Annotated[
        str,
        typer.Option(
            envvar="WATCHKEEPER_WRITER",
            help="Store events in a writer process of its own ('process') or a thread ('thread').",
        ),
    ] = DEFAULTS.writer,
    lamia_stale_after: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_LAMIA_STALE_AFTER",
            min=0,
            help="Seconds without an event before a running Lamia job is stale.",
        ),
    ] = DEFAULTS.lamia_stale_after,
    redis: Annotated[
        str | None,
        typer.Option(
            envvar="WATCHKEEPER_REDIS",
            help="Keep the command queue in Redis (redis://host:port/db), shared by servers.",
        ),
    ] = None,
    command_ttl: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_COMMAND_TTL",
            min=0.001,
            help="Seconds a command waits for its agent.",
        ),
    ] = DEFAULTS.command_ttl,
    command_max_wait: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_COMMAND_MAX_WAIT",
            min=0,
            max=300,
            help="Longest long poll in seconds (an agent's ask for commands, a wait for a result).",
        ),
    ] = DEFAULTS.command_max_wait,
    log_level: Annotated[str, typer.Option(envvar="WATCHKEEPER_LOG_LEVEL")] = "info",
    state_max_depth: Annotated[
        int, typer.Option(envvar="WATCHKEEPER_STATE_MAX_DEPTH", min=1, max=500)
    ] = DEFAULTS.state_max_depth,
    state_expired_path: Annotated[
        str, typer.Option(envvar="WATCHKEEPER_STATE_EXPIRED_PATH")
    ] = DEFAULTS.state_expired_path,
    state_role: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WATCHKEEPER_STATE_ROLE",
            help="ROLE=HOST_PREFIX for intent resolution (repeatable; default "
            "scraper=scraper and spotter=spotter).",
        ),
    ] = None,
    log_retention: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WATCHKEEPER_LOG_RETENTION",
            help="SEVERITY=DURATION a log record is kept (repeatable; e.g. info=7d, debug=12h).",
        ),
    ] = None,
    statsd_port: Annotated[
        int | None,
        typer.Option(
            envvar="WATCHKEEPER_STATSD_PORT",
            min=0,
            max=65535,
            help="Receive statsd over UDP on this port (off unless set; 8125 is statsd's).",
        ),
    ] = DEFAULTS.statsd_port,
    statsd_flush_interval: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_STATSD_FLUSH_INTERVAL",
            min=0.001,
            help="Seconds between statsd flushes into the metric series.",
        ),
    ] = DEFAULTS.statsd_flush_interval,
    statsd_percentile: Annotated[
        list[float] | None,
        typer.Option(
            envvar="WATCHKEEPER_STATSD_PERCENTILE",
            help="A timer percentile reported as upper_N and mean_N (repeatable; default 90).",
        ),
    ] = None,
    metrics_stale_after: Annotated[
        float,
        typer.Option(
            envvar="WATCHKEEPER_METRICS_STALE_AFTER",
            min=0,
            help="Seconds after its last sample a series leaves /metrics.",
        ),
    ] = DEFAULTS.metrics_stale_after,
    metrics_statsd_prefix: Annotated[
        str,
        typer.Option(
            envvar="WATCHKEEPER_METRICS_STATSD_PREFIX",
            help="Prefix of the statsd series' names in /metrics.",
        ),
    ] = DEFAULTS.metrics_statsd_prefix,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Print the resolved settings as JSON (tokens redacted) and exit."
        ),
    ] = False,
) -> None:
    """Run the server: ingest, views, REST API and dashboard."""
    import uvicorn

    from watchkeeper.api.app import create_app

    file_data = ctx.meta.get("watchkeeper.config", {})
    try:
        settings = Settings(
            db=db,
            host=host,
            port=port,
            insecure=insecure,
            allowed_hosts=_host_list(allowed_hosts),
            max_body_bytes=max_body_bytes,
            max_buckets=max_buckets,
            max_spans=max_spans,
            stream_backlog_bytes=stream_backlog_bytes,
            stale_after=stale_after,
            offline_after=offline_after,
            sqlite_synchronous=sqlite_synchronous.upper(),
            writer=writer.lower(),
            lamia_stale_after=lamia_stale_after,
            redis=redis,
            command_ttl=command_ttl,
            command_max_wait=command_max_wait,
            tokens=tokens_from(file_data.get("auth")),
            state_max_depth=state_max_depth,
            state_expired_path=state_expired_path,
            **({"state_roles": parse_roles(state_role)} if state_role else {}),
            log_retention=parse_retention(log_retention or []),
            statsd_port=statsd_port,
            statsd_flush_interval=statsd_flush_interval,
            metrics_stale_after=metrics_stale_after,
            metrics_statsd_prefix=metrics_statsd_prefix,
            **({"statsd_percentiles": tuple(statsd_percentile)} if statsd_percentile else {}),
            inputs=tuple(file_data.get("inputs", ())),
            kpis=dict(file_data.get("kpis", {})),
        )
        settings.check()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if check:
        shown = dataclasses.asdict(settings)
        shown["tokens"] = sorted(settings.tokens.values())
        shown["db"] = _safe_url(settings.db)
        shown["redis"] = settings.redis and _safe_url(settings.redis)
        print(json.dumps(shown, sort_keys=True))
        return
    err.print(
        f"watchkeeper {__version__} on http://{host}:{port}  (db: {_safe_url(db)}, "
        f"auth: {'tokens' if settings.tokens else 'anonymous'})"
    )
    app = create_app(settings)
    from watchkeeper.api.coalesce import CoalescingProtocol

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=CoalescingProtocol,
        log_level=log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    _run(app, config)


def _run(app: Any, config: Any) -> None:
    """Run uvicorn, telling the command queue when the server starts to stop: the agents'
    and callers' long polls then answer at once, instead of holding the shutdown for its
    grace."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            commands = getattr(app.state, "commands", None)
            if commands is None:
                return
            try:  # a signal handler: leave the queue's waiters to the loop
                asyncio.get_running_loop().call_soon_threadsafe(commands.stop_waiting)
            except RuntimeError:
                commands.stop_waiting()

    Server(config).run()


def _host_list(values: list[str] | str | None) -> tuple[str, ...]:
    """Host names given repeatedly, comma- or space-separated, or as a TOML list."""
    if isinstance(values, str):
        values = [values]
    return tuple(name for value in values or () for name in value.replace(",", " ").split())


def _safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    from watchkeeper.store.db import normalise_url

    return make_url(normalise_url(url)).render_as_string(hide_password=True)
