"""What the ``watchkeeper`` commands share: the consoles, ``--config`` (a TOML file's keys as
option defaults), the common options, progress bars, tables and the unreachable-server message."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from watchkeeper.config import ConfigError, read_file

console = Console()
err = Console(stderr=True)


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


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def unreachable(server: str, exc: Exception) -> NoReturn:
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


UNBROKEN = frozenset({"id", "created_at", "updated_at", "last_seen", "ts"})


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
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
