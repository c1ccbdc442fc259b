"""Commands whose logic lives in modules of their own: ``agent`` (the node agent) and
``tail`` (back-fill of log files)."""

from __future__ import annotations

from typing import Annotated

import typer

from watchkeeper.cli.options import ConfigOpt, DbOpt, ServerOpt, TokenOpt, err
from watchkeeper.config import DEFAULT_DB


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
