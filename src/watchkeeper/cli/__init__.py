"""The ``watchkeeper`` command.

Every option also comes from ``WATCHKEEPER_<OPTION>`` and from a TOML file given with
``--config`` (or ``WATCHKEEPER_CONFIG``): the file's top-level keys, and those of a table named
after the command (``[serve]``, ``[send]``...), become the defaults of the options of the same
name. Click applies the order command line > environment > file > built-in default.
"""

from __future__ import annotations

from typing import Annotated

import typer

from watchkeeper import __version__, cmdcli, tokencli
from watchkeeper.cli import db, delegated, queries, serve
from watchkeeper.cli.options import console

app = typer.Typer(
    help="watchkeeper: a self-hosted monitor for distributed work.",
    no_args_is_help=True,
    add_completion=False,
)


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


# Registered in the order ``--help`` lists them.
app.command()(serve.serve)
app.add_typer(db.db_app, name="db")
app.command()(queries.send)
app.command()(queries.tasks)
app.command()(queries.agents)
app.command()(queries.incidents)
app.command()(queries.demo)
app.command()(delegated.agent)
cmdcli.register(app)  # watchkeeper cmd: commands to agents
tokencli.register(app)  # watchkeeper token: agent tokens
app.command("tail")(delegated.tail_files)


def main() -> None:
    app()
