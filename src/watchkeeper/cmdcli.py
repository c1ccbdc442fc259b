"""``watchkeeper cmd GID NID CMD [-- ARGS...]``: send a command to an agent, print its result.

``execute`` (and the script runners) take the executable and its arguments after ``--``;
``--opt KEY=VALUE`` adds run options (``max_time=5``); ``--data`` is the command's data
(stdin, or the JSON query of ``get_msgs``). The exit status is 0 only for SUCCESS.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

err = Console(stderr=True)


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{text!r}: expected KEY=VALUE")
    try:
        return key, orjson.loads(value)
    except orjson.JSONDecodeError:
        return key, value  # a plain string


def cmd(
    gid: Annotated[int, typer.Argument(min=0, help="grid id of the agent")],
    nid: Annotated[int, typer.Argument(min=0, help="node id of the agent")],
    command: Annotated[str, typer.Argument(help="execute, ping, get_cpu_info, kill, ...")],
    argv: Annotated[
        list[str] | None, typer.Argument(help="execute: the executable and its arguments")
    ] = None,
    server: Annotated[
        str, typer.Option("--server", envvar="WATCHKEEPER_SERVER", help="The server's URL.")
    ] = "http://127.0.0.1:7070",
    token: Annotated[
        str | None, typer.Option("--token", envvar="WATCHKEEPER_TOKEN", help="An admin token.")
    ] = None,
    data: Annotated[str | None, typer.Option(help="The command's data ('-': stdin).")] = None,
    opt: Annotated[
        list[str] | None, typer.Option("--opt", help="A run option KEY=VALUE (repeatable).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait (0: for ever).")] = 60,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Print the id, do not wait.")] = False,
) -> None:
    """Send a command to agent GID.NID and print its result (exit status 1 unless SUCCESS)."""
    import httpx

    from watchkeeper.client import Client, WatchkeeperError

    args: dict[str, Any] = dict(_option(o) for o in opt or [])
    if argv:
        args |= {"name": argv[0], "args": argv[1:]}
    if data == "-":
        data = sys.stdin.read()
    try:
        with Client(server, token, retries=1) as client:
            sent = client.cmd(gid, nid, command, args, data)
            if no_wait:
                print(sent.id)
                return
            result = sent.result(timeout or None)
    except TimeoutError as exc:
        err.print(f"[red]timeout:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except WatchkeeperError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except httpx.TransportError as exc:
        err.print(f"[red]error:[/red] cannot reach {escape(server)}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    if as_json:
        print(orjson.dumps(result).decode())
    else:
        _print(result)
    if result["state"] != "SUCCESS":
        raise typer.Exit(1)


def _print(result: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for key in ("id", "cmd", "state", "level", "time", "data"):
        value = result.get(key)
        if key == "time" and value is not None:
            value = f"{value} ms"
        table.add_row(key, escape("" if value is None else str(value)))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("cmd")(cmd)
