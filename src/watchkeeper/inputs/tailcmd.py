"""The ``watchkeeper tail`` command: back-fill with a progress bar."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from watchkeeper.config import ConfigError, read_file
from watchkeeper.inputs.backfill import backfill
from watchkeeper.inputs.batch import FORMATS, MAX_CLOCK_SKEW
from watchkeeper.inputs.settings import parse_kpis


def run(
    files: Sequence[str],
    *,
    fmt: str,
    db: str,
    packages: str | None,
    config: str | None,
    console: Console,
) -> None:
    try:
        if fmt not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        kpis = parse_kpis(read_file(config).get("kpis")) if config else {}
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    with Progress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            lines = backfill(
                files,
                fmt=fmt,
                url=db,
                packages=packages or kpis.get("packages"),
                progress=progress,
                max_skew=kpis.get("max_clock_skew_seconds", MAX_CLOCK_SKEW),
            )
        except (OSError, ValueError) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    console.print(f"{lines} lines read")
