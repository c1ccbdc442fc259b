"""The client commands: ``send`` (a file of events), ``tasks``, ``agents``, ``incidents`` and
``demo`` (a simulated fleet), against a running server."""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import click
import orjson
import typer
from rich.markup import escape

from watchkeeper.cli.options import (
    DEFAULT_SERVER,
    ConfigOpt,
    JsonOpt,
    ServerOpt,
    TokenOpt,
    console,
    err,
    print_table,
    progress_bar,
    unreachable,
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
        with Client(server, token, retries=retries) as client, progress_bar() as progress:
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
        unreachable(server, exc)
    console.print(f"sent {len(items)} events: {stored} stored, {dups} duplicates")


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
        unreachable(server, exc)


def _show(data: Any, key: str, columns: list[str], title: str, as_json: bool) -> None:
    """A listing's answer: as JSON, or its ``key`` items as a table."""
    if as_json:
        console.print_json(json.dumps(data))
    else:
        print_table(data[key], columns, title)


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
    columns = ["id", "status", "producer", "agent", "created_at", "updated_at"]
    _show(data, "tasks", columns, f"tasks ({len(data['tasks'])} of {data['total']})", as_json)


def agents(
    config: ConfigOpt = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List agents with their state and liveness."""
    data = _query(server, token, "agents")
    columns = ["id", "state", "liveness", "last_seen", "tasks_processed", "incidents"]
    _show(data, "agents", columns, f"agents ({data['total']})", as_json)


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
    columns = ["id", "ts", "agent", "task", "last_state", "message"]
    title = f"incidents ({len(data['incidents'])} of {data['total']})"
    _show(data, "incidents", columns, title, as_json)


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
    with Client(server, token) as client, progress_bar() as progress:
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
            unreachable(server, exc)
    console.print(f"demo sent {sent} events; open {server}/ for the dashboard")
