"""The ``[[inputs]]`` tables and the ``[kpis]`` table of the server's TOML file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from watchkeeper.config import ConfigError
from watchkeeper.inputs.batch import FORMATS, MAX_CLOCK_SKEW

_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")


@dataclass(slots=True, frozen=True)
class InputSpec:
    id: str
    type: str
    format: str
    paths: tuple[str, ...] = ()
    read_from: str = "beginning"
    command: tuple[str, ...] = ()
    restart_after: float = 10.0
    #: Seconds between looks at the files when nothing was read.
    poll_seconds: float = 0.5


def parse_inputs(tables: Any) -> tuple[InputSpec, ...]:
    if not tables:
        return ()
    if not isinstance(tables, list):
        raise ConfigError("inputs must be a list of [[inputs]] tables")
    specs: list[InputSpec] = []
    for n, table in enumerate(tables):
        where = f"inputs[{n}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table")
        ident = table.get("id")
        if not isinstance(ident, str) or not _ID.match(ident):
            raise ConfigError(f"{where}.id: expected a name of letters, digits and . _ : -")
        kind = table.get("type", "file")
        fmt = table.get("format", "caddy")
        if fmt not in FORMATS:
            raise ConfigError(f"{where}.format: expected one of {', '.join(FORMATS)}")
        if kind == "file":
            paths = table.get("paths")
            if isinstance(paths, str):
                paths = [paths]
            if not paths or not all(isinstance(p, str) and p for p in paths):
                raise ConfigError(f"{where}.paths: expected a list of file globs")
            read_from = table.get("read_from", "beginning")
            if read_from not in ("beginning", "end"):
                raise ConfigError(f"{where}.read_from: expected 'beginning' or 'end'")
            poll = table.get("poll_seconds", 0.5)
            if not isinstance(poll, int | float) or not 0.01 <= poll <= 60:
                raise ConfigError(f"{where}.poll_seconds: expected seconds between 0.01 and 60")
            specs.append(
                InputSpec(
                    ident,
                    kind,
                    fmt,
                    paths=tuple(paths),
                    read_from=read_from,
                    poll_seconds=float(poll),
                )
            )
        elif kind == "command":
            command = table.get("command")
            if isinstance(command, str):
                command = command.split()
            if not command or not all(isinstance(c, str) for c in command):
                raise ConfigError(f"{where}.command: expected the command and its arguments")
            restart = table.get("restart_after", 10.0)
            if not isinstance(restart, int | float) or restart < 0:
                raise ConfigError(f"{where}.restart_after: expected seconds (>= 0)")
            specs.append(
                InputSpec(ident, kind, fmt, command=tuple(command), restart_after=float(restart))
            )
        else:
            raise ConfigError(f"{where}.type: expected 'file' or 'command'")
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise ConfigError("inputs: every input needs an id of its own")
    return tuple(specs)


def parse_kpis(table: Any) -> dict[str, Any]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError("kpis: expected a table")
    packages = table.get("packages")
    if packages is not None and not isinstance(packages, str):
        raise ConfigError("kpis.packages: expected the path of packages.yml")
    checkpoint = table.get("checkpoint_seconds", 60.0)
    if not isinstance(checkpoint, int | float) or not 0 < checkpoint <= 3600:
        raise ConfigError("kpis.checkpoint_seconds: expected seconds between 0 and 3600")
    skew = table.get("max_clock_skew_seconds", MAX_CLOCK_SKEW)
    if not isinstance(skew, int | float) or isinstance(skew, bool) or not 0 <= skew <= 366 * 86400:
        raise ConfigError("kpis.max_clock_skew_seconds: expected seconds between 0 and 31622400")
    return {
        "packages": packages,
        "checkpoint_seconds": float(checkpoint),
        "max_clock_skew_seconds": float(skew),
    }


def check(inputs: Any, kpis: Any) -> None:
    """Refuse a server configuration whose inputs cannot start (before it serves)."""
    from watchkeeper.inputs import packages

    specs = parse_inputs(list(inputs))
    table = parse_kpis(kpis or None)
    path = packages.location(table.get("packages"))
    if path and any(spec.format == "caddy" for spec in specs):
        try:
            packages.load(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"kpis.packages {path}: {exc}") from None
