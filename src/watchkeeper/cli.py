"""The ``watchkeeper`` command.

Every option also comes from ``WATCHKEEPER_<OPTION>`` and from a TOML file given with
``--config`` (or ``WATCHKEEPER_CONFIG``): the file's top-level keys, and those of a table named
after the command (``[serve]``, ``[send]``...), become the defaults of the options of the same
name. Click applies the order command line > environment > file > built-in default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

import click
import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from watchkeeper import __version__, cmdcli, tokencli
from watchkeeper.config import (
    DEFAULT_DB,
    ConfigError,
    Settings,
    parse_retention,
    parse_roles,
    read_file,
    tokens_from,
)

app = typer.Typer(
    help="watchkeeper: a self-hosted monitor for distributed work.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)
#: The server's defaults, as ``Settings`` declares them: ``serve``'s options show and use these.
DEFAULTS = Settings()


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Eager ``--config``: turn the file into this command's option defaults."""
    if not value:
        return value
    try:
        data = read_file(value)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    defaults = {k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)}
    section = data.get(ctx.info_name or "", {})
    if isinstance(section, dict):
        defaults.update({k.replace("-", "_"): v for k, v in section.items()})
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    ctx.meta["watchkeeper.config"] = data
    return value


ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        envvar="WATCHKEEPER_CONFIG",
        is_eager=True,
        callback=_load_config,
        help="TOML config file.",
        show_default=False,
    ),
]
DbOpt = Annotated[
    str, typer.Option("--db", envvar="WATCHKEEPER_DB", help="Database URL or SQLite file path.")
]
DEFAULT_SERVER = "http://127.0.0.1:7070"
ServerOpt = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="WATCHKEEPER_SERVER",
        help="Base URL of the watchkeeper server to talk to.",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="WATCHKEEPER_TOKEN", help="Bearer token.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _version(value: bool) -> None:
    if value:
        console.print(f"watchkeeper {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """watchkeeper: tasks, agents, incidents, logs and metrics of a fleet, in one server."""


@app.command()
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
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )


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


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None, db: DbOpt = DEFAULT_DB) -> None:
    """Apply database migrations (also done on every start of the server)."""
    from watchkeeper.store import db as store_db
    from watchkeeper.store.rebuild import heal
    from watchkeeper.views import ALL_VIEWS

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    if heal(engine, ALL_VIEWS) is not None:
        console.print(
            "rebuilt the views once, as the upgrade asked (events moved aside: `db check`)"
        )
    console.print(f"database at revision {store_db.current_revision(engine)}")


@db_app.command("check")
def db_check(config: ConfigOpt = None, db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """List the events moved out of the log because their time cannot be shown; exit 1 if
    the log still holds such events (`db rebuild` moves them aside)."""
    from watchkeeper.store import db as store_db
    from watchkeeper.store import quarantine

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    with engine.connect() as conn:
        moved, left = quarantine.listed(conn), quarantine.unshowable_in_log(conn)
    if as_json:
        print(json.dumps({"quarantined": moved, "unshowable_in_log": left}))
    else:
        columns = ["seq", "kind", "event_id", "ts", "received_at", "reason", "quarantined_at"]
        _table(moved, columns, f"events moved aside ({len(moved)})")
        console.print(f"{left} event(s) in the log whose time cannot be shown")
    if left:
        raise typer.Exit(1)


@db_app.command("rebuild")
def db_rebuild(config: ConfigOpt = None, db: DbOpt = DEFAULT_DB) -> None:
    """Recompute every view from the event log."""
    from watchkeeper.store import db as store_db
    from watchkeeper.store.rebuild import rebuild
    from watchkeeper.views import ALL_VIEWS

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    with _progress() as progress:
        job = progress.add_task("replaying events", total=None)
        done = rebuild(
            engine, ALL_VIEWS, lambda n, total: progress.update(job, completed=n, total=total)
        )
    console.print(f"rebuilt {len(ALL_VIEWS)} views from {done} events")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _read_path(source: str) -> bytes:
    try:
        return pathlib.Path(source).read_bytes()
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {escape(source)}: {exc.strerror}")
        raise typer.Exit(2) from None


def _read_items(raw: bytes, source: str) -> Iterator[Any]:
    """JSON (an object or an array) or NDJSON."""
    stripped = raw.lstrip()
    if stripped.startswith(b"["):
        yield from orjson.loads(raw)
        return
    try:
        yield orjson.loads(raw)
        return
    except orjson.JSONDecodeError:
        pass
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise click.BadParameter(f"{source}:{number}: {exc}") from None


@app.command()
def send(
    source: Annotated[str, typer.Argument(help="JSON or NDJSON file, or - for stdin.")] = "-",
    config: ConfigOpt = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
    batch_size: Annotated[
        int, typer.Option(envvar="WATCHKEEPER_BATCH_SIZE", min=1, max=100_000)
    ] = 1000,
    retries: Annotated[int, typer.Option(envvar="WATCHKEEPER_RETRIES", min=0)] = 5,
    idempotent: Annotated[
        bool,
        typer.Option(
            envvar="WATCHKEEPER_IDEMPOTENT",
            help="Give events without an event_id one derived from the input and the position, "
            "so re-sending the same input (or a retried batch) never stores twice.",
        ),
    ] = True,
) -> None:
    """Send events from a file (batched, retried, with progress)."""
    import httpx

    from watchkeeper.client import Client, WatchkeeperError

    raw = sys.stdin.buffer.read() if source == "-" else _read_path(source)
    items = list(_read_items(raw, source))
    if idempotent:
        digest = hashlib.sha256(raw).hexdigest()[:16]
        for index, item in enumerate(items):
            if isinstance(item, dict) and "event_id" not in item:
                item["event_id"] = f"{digest}:{index}"
    stored = dups = 0
    try:
        with Client(server, token, retries=retries) as client, _progress() as progress:
            job = progress.add_task("sending", total=len(items))
            for ack in client.send(
                items, batch_size=batch_size, progress=lambda n: progress.advance(job, n)
            ):
                stored += ack["accepted"] - ack.get("duplicates", 0)
                dups += ack.get("duplicates", 0)
    except WatchkeeperError as exc:
        err.print(f"[red]refused:[/red] {escape(str(exc))}")
        for detail in exc.details[:20]:
            err.print(escape(f"  {detail.get('path')}: {detail.get('reason')}"))
        raise typer.Exit(1) from None
    except (httpx.TransportError, ValueError) as exc:  # still unreachable after all retries
        _unreachable(server, exc)
    console.print(f"sent {len(items)} events: {stored} stored, {dups} duplicates")


def _unreachable(server: str, exc: Exception) -> NoReturn:
    if isinstance(exc, ValueError):  # something answered, but not JSON
        problem = "the answer is not a watchkeeper server's"
    else:
        problem = str(exc) or repr(exc)
    err.print(f"[red]error:[/red] cannot reach {escape(server)}: {escape(problem)}")
    err.print(
        f"  Is `watchkeeper serve` running there? Client commands talk to {DEFAULT_SERVER} "
        "unless told otherwise: pass --server URL or set WATCHKEEPER_SERVER."
    )
    raise typer.Exit(1)


def _query(server: str, token: str | None, method: str, **filters: Any) -> Any:
    import httpx

    from watchkeeper.client import Client, WatchkeeperError

    try:
        with Client(server, token, retries=1) as client:
            return getattr(client, method)(**filters)
    except WatchkeeperError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except (httpx.TransportError, ValueError) as exc:
        _unreachable(server, exc)


#: Columns never folded: a time cut in two cannot be read, copied or parsed.
UNBROKEN = frozenset({"id", "created_at", "updated_at", "last_seen", "ts"})


def _table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in UNBROKEN)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    if console.is_terminal:
        console.print(table)
        return
    # A pipe or a file has no width to fit: every row on one line, as wide as it needs, so
    # that grep, sort and awk see whole rows.
    Console(width=1_000_000, highlight=False).print(table)


@app.command()
def tasks(
    config: ConfigOpt = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
    status: Annotated[str | None, typer.Option(help="Comma-separated statuses.")] = None,
    agent: str | None = None,
    producer: str | None = None,
    since: str | None = None,
    limit: int = 50,
    as_json: JsonOpt = False,
) -> None:
    """List tasks."""
    data = _query(
        server,
        token,
        "tasks",
        status=status,
        agent=agent,
        producer=producer,
        since=since,
        limit=limit,
    )
    if as_json:
        console.print_json(json.dumps(data))
        return
    _table(
        data["tasks"],
        ["id", "status", "producer", "agent", "created_at", "updated_at"],
        f"tasks ({len(data['tasks'])} of {data['total']})",
    )


@app.command()
def agents(
    config: ConfigOpt = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List agents with their state and liveness."""
    data = _query(server, token, "agents")
    if as_json:
        console.print_json(json.dumps(data))
        return
    _table(
        data["agents"],
        ["id", "state", "liveness", "last_seen", "tasks_processed", "incidents"],
        f"agents ({data['total']})",
    )


@app.command()
def incidents(
    config: ConfigOpt = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
    agent: str | None = None,
    task: str | None = None,
    since: str | None = None,
    limit: int = 50,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    data = _query(server, token, "incidents", agent=agent, task=task, since=since, limit=limit)
    if as_json:
        console.print_json(json.dumps(data))
        return
    _table(
        data["incidents"],
        ["id", "ts", "agent", "task", "last_state", "message"],
        f"incidents ({len(data['incidents'])} of {data['total']})",
    )


@app.command()
def demo(
    config: ConfigOpt = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
    duration: Annotated[float, typer.Option(help="Seconds to run; 0 runs until Ctrl-C.")] = 60.0,
    agents_count: Annotated[int, typer.Option("--agents", min=1, max=1000)] = 8,
    producers: Annotated[int, typer.Option(min=1, max=100)] = 2,
    seed: int | None = None,
) -> None:
    """Run a simulated fleet (producers, agents, aborts with incidents) against a server."""
    import httpx

    from watchkeeper import demo as fleet
    from watchkeeper.client import Client

    err.print(
        f"simulating {agents_count} agents and {producers} producers against {server} "
        f"({'until Ctrl-C' if duration <= 0 else f'{duration:g} s'})"
    )
    with Client(server, token) as client, _progress() as progress:
        job = progress.add_task("events sent", total=None)
        try:
            sent = fleet.run(
                client.send,
                duration=duration,
                agents=agents_count,
                producers=producers,
                seed=seed,
                on_step=lambda n: progress.advance(job, n),
            )
        except KeyboardInterrupt:
            sent = int(progress.tasks[0].completed)
        except httpx.TransportError as exc:
            progress.stop()
            _unreachable(server, exc)
    console.print(f"demo sent {sent} events; open {server}/ for the dashboard")


@app.command()
def agent(
    ctx: typer.Context,
    config: ConfigOpt = None,
    server: ServerOpt = "http://127.0.0.1:7070",
    token: TokenOpt = None,
    gid: Annotated[str | None, typer.Option(envvar="WATCHKEEPER_GID", help="Grid id.")] = None,
    nid: Annotated[str | None, typer.Option(envvar="WATCHKEEPER_NID", help="Node id.")] = None,
    data_dir: Annotated[str | None, typer.Option(envvar="WATCHKEEPER_DATA_DIR")] = None,
    check: Annotated[bool, typer.Option("--check", help="Print the settings and exit.")] = False,
) -> None:
    """Run the node agent: supervise [programs.*], keep their output, forward it."""
    from watchkeeper.agent.main import run_from_cli

    given = {"server": server, "token": token, "gid": gid, "nid": nid, "data_dir": data_dir}
    code = run_from_cli(ctx.meta.get("watchkeeper.config", {}), given, check=check)
    raise typer.Exit(code)


cmdcli.register(app)  # watchkeeper cmd: commands to agents
tokencli.register(app)  # watchkeeper token: agent tokens


@app.command("tail")
def tail_files(
    files: Annotated[list[str], typer.Argument(help="Log files to read once, to their end.")],
    config: ConfigOpt = None,
    db: DbOpt = DEFAULT_DB,
    fmt: Annotated[str, typer.Option("--format", help="caddy, ndjson or levels.")] = "caddy",
    packages: Annotated[
        str | None, typer.Option(help="packages.yml (default: [kpis] packages, env).")
    ] = None,
) -> None:
    """Back-fill: run the inputs' pipeline once over FILES, with a progress bar."""
    from watchkeeper.inputs.tailcmd import run

    run(files, fmt=fmt, db=db, packages=packages, config=config, console=err)


def main() -> None:
    app()
