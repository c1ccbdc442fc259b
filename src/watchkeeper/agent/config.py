"""The agent's settings and its programs, read from the TOML file and the environment.

The options the command line knows (``--server``, ``--token``, ``--gid``, ``--nid``,
``--data-dir``) arrive already resolved by the CLI; every other ``[agent]`` key is resolved
here in the same order: ``WATCHKEEPER_<KEY>`` over the file's ``[agent]`` table over the
default. Programs are the file's ``[programs.<name>]`` tables.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.agent.levels import LevelFilter, parse_levels
from watchkeeper.config import ConfigError

AUTORESTART = ("always", "on-failure", "never")


@dataclass(slots=True)
class AgentSettings:
    gid: str = ""
    nid: str = ""
    server: str = "http://127.0.0.1:7070"
    token: str | None = None
    data_dir: str = "watchkeeper-agent"
    #: Seconds between heartbeats (the server calls an agent stale after 30 s of silence).
    heartbeat_interval: float = 10.0
    #: Forwarding: a batch leaves at ``batch_size`` events or after ``flush_interval`` seconds.
    flush_interval: float = 2.0
    batch_size: int = 1000
    batch_bytes: int = 4 << 20
    #: Forwarding retries back off (full jitter) from ``retry_delay`` up to ``retry_delay_max`` s.
    retry_delay: float = 0.5
    retry_delay_max: float = 30.0
    #: On shutdown, how long the agent keeps trying to hand its last events to the server.
    shutdown_timeout: float = 5.0
    #: The local store rotates ``current.db`` at this size.
    rotate_bytes: int = 100 << 20
    #: A message (line or multiline) is cut beyond this many bytes.
    max_message_bytes: int = 1 << 20
    #: A forwarded message's text is cut beyond this many bytes (the store keeps it whole).
    forward_max_bytes: int = 64 << 10
    stats_interval: float = 30.0
    #: A failure within this many seconds of the run's start counts towards ``max_restart``.
    restart_window: float = 300.0
    loglevels: str = "*"
    loglevels_db: str = "*"
    loglevels_ac: str = "*"

    @property
    def agent_id(self) -> str:
        return f"{self.gid}.{self.nid}"

    def check(self) -> None:
        for name in ("gid", "nid"):
            value = getattr(self, name)
            if not value or not value.isdigit():
                raise ConfigError(f"{name} is required and must be a non-negative integer")
        if not self.server.startswith(("http://", "https://")):
            raise ConfigError("server must be an http:// or https:// URL")
        for name in ("heartbeat_interval", "flush_interval", "stats_interval", "retry_delay"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.retry_delay_max < self.retry_delay:
            raise ConfigError("retry_delay_max must not be shorter than retry_delay")
        if not 1 <= self.batch_size <= 100_000:
            raise ConfigError("batch_size must be between 1 and 100000")
        for name in ("batch_bytes", "rotate_bytes", "max_message_bytes", "forward_max_bytes"):
            if getattr(self, name) < 1024:
                raise ConfigError(f"{name} must be at least 1024")
        for name in ("loglevels", "loglevels_db", "loglevels_ac"):
            _levels(getattr(self, name), name)


@dataclass(slots=True)
class ProgramSpec:
    key: str
    argv: list[str]
    domain: str
    name: str
    working_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    autorestart: str = "on-failure"
    max_restart: int = 3
    restart_delay: float = 1.0
    restart_delay_max: float = 60.0
    max_time: float = 0.0
    recurring_period: float = 0.0
    stop_signal: int = signal.SIGTERM
    stop_wait: float = 10.0
    stats_interval: float | None = None
    loglevels: LevelFilter | None = None
    loglevels_db: LevelFilter | None = None
    loglevels_ac: LevelFilter | None = None
    #: Written to each run's stdin (a command's ``data``); without it stdin is empty.
    stdin: str | None = None

    @property
    def long_running(self) -> bool:
        return self.max_time == -1


def resolve(
    file_data: Mapping[str, Any], resolved: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> AgentSettings:
    """Settings from what the CLI resolved, then the environment, the file, the defaults."""
    env = os.environ if env is None else env
    table = file_data.get("agent", {})
    if not isinstance(table, dict):
        raise ConfigError("[agent] must be a table")
    known = {f.name: f for f in dataclasses.fields(AgentSettings)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"[agent]: unknown keys {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in known.items():
        if name in resolved:
            value = resolved[name]
        elif f"WATCHKEEPER_{name.upper()}" in env:
            value = env[f"WATCHKEEPER_{name.upper()}"]
        elif name in table:
            value = table[name]
        else:
            continue
        values[name] = _convert(value, spec.default, f"agent.{name}")
    settings = AgentSettings(**values)
    settings.check()
    return settings


def _convert(value: Any, default: Any, path: str) -> Any:
    if value is None:
        return None
    kind = type(default)
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if kind is int and not isinstance(value, bool):
            return int(value)
        if kind is float and not isinstance(value, bool):
            return float(value)
        if isinstance(value, int | str) and not isinstance(value, bool):
            return str(value)
    except ValueError:
        pass
    raise ConfigError(f"{path}: expected {kind.__name__}, got {value!r}")


_PROGRAM_KEYS = frozenset(
    {
        "command",
        "args",
        "working_dir",
        "env",
        "domain",
        "name",
        "autorestart",
        "max_restart",
        "restart_delay",
        "restart_delay_max",
        "max_time",
        "recurring_period",
        "stop_signal",
        "stop_wait",
        "stats_interval",
        "loglevels",
        "loglevels_db",
        "loglevels_ac",
        "stdin",
    }
)


def programs(file_data: Mapping[str, Any]) -> list[ProgramSpec]:
    tables = file_data.get("programs", {})
    if not isinstance(tables, dict):
        raise ConfigError("[programs] must hold one table per program")
    specs = [program(key, table, f"programs.{key}") for key, table in tables.items()]
    seen: dict[tuple[str, str], str] = {}
    for spec in specs:
        other = seen.setdefault((spec.domain, spec.name), spec.key)
        if other != spec.key:
            raise ConfigError(
                f"programs.{spec.key}: domain/name {spec.domain}/{spec.name} is already "
                f"used by programs.{other}"
            )
    return specs


def program(key: str, table: Any, path: str) -> ProgramSpec:
    """One program's table as a spec; every problem names its key path."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a table")
    unknown = sorted(set(table) - _PROGRAM_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(unknown)}")
    command = table.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{path}.command: required, a command line or an executable")
    args = table.get("args")
    if args is None:
        # Without ``args`` the command is a command line, split as a POSIX shell would
        # (no shell runs it: no pipes or variables).
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ConfigError(f"{path}.command: {exc}") from None
    elif isinstance(args, list) and all(isinstance(a, str | int | float) for a in args):
        argv = [command, *(str(a) for a in args)]
    else:
        raise ConfigError(f"{path}.args: expected a list of strings")
    env = table.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str | int | float) for v in env.values()):
        raise ConfigError(f"{path}.env: expected a table of strings")
    autorestart = table.get("autorestart", "on-failure")
    if autorestart is True or autorestart is False:
        autorestart = "always" if autorestart else "never"
    if autorestart not in AUTORESTART:
        raise ConfigError(f"{path}.autorestart: expected one of {', '.join(AUTORESTART)}")
    spec = ProgramSpec(
        key=key,
        argv=argv,
        domain=_ident(table.get("domain", "default"), f"{path}.domain"),
        name=_ident(table.get("name", key), f"{path}.name"),
        working_dir=_opt_str(table.get("working_dir"), f"{path}.working_dir"),
        env={str(k): str(v) for k, v in env.items()},
        autorestart=autorestart,
        max_restart=_number(table, "max_restart", 3, path, int, minimum=-1),
        restart_delay=_number(table, "restart_delay", 1.0, path, float, minimum=0),
        restart_delay_max=_number(table, "restart_delay_max", 60.0, path, float, minimum=0),
        max_time=_number(table, "max_time", 0.0, path, float, minimum=-1),
        recurring_period=_number(table, "recurring_period", 0.0, path, float, minimum=0),
        stop_signal=_signal(table.get("stop_signal", "TERM"), f"{path}.stop_signal"),
        stop_wait=_number(table, "stop_wait", 10.0, path, float, minimum=0),
        stats_interval=_number(table, "stats_interval", None, path, float, minimum=0.1),
        loglevels=_opt_levels(table.get("loglevels"), f"{path}.loglevels"),
        loglevels_db=_opt_levels(table.get("loglevels_db"), f"{path}.loglevels_db"),
        loglevels_ac=_opt_levels(table.get("loglevels_ac"), f"{path}.loglevels_ac"),
        stdin=_opt_str(table.get("stdin"), f"{path}.stdin"),
    )
    if -1 < spec.max_time < 0:
        raise ConfigError(f"{path}.max_time: -1 (long-running), 0 (no limit) or seconds")
    if spec.restart_delay_max < spec.restart_delay:
        raise ConfigError(f"{path}.restart_delay_max: shorter than restart_delay")
    return spec


def _ident(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or "/" in value or len(value) > 60:
        raise ConfigError(f"{path}: expected 1 to 60 characters without '/'")
    return value


def _opt_str(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{path}: expected a string")


def _number(
    table: Mapping[str, Any], key: str, default: Any, path: str, kind: type, *, minimum: float
) -> Any:
    value = table.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{path}.{key}: expected a number")
    if kind is int and value != int(value):
        raise ConfigError(f"{path}.{key}: expected an integer")
    if value < minimum:
        raise ConfigError(f"{path}.{key}: must be at least {minimum:g}")
    return kind(value)


_SIGNALS = frozenset(s.value for s in signal.Signals)


def _signal(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        name = value.upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        number = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else 0
    else:
        number = 0
    if not number or number not in _SIGNALS:
        raise ConfigError(f"{path}: expected a signal name (TERM, INT, HUP, QUIT, KILL...)")
    return int(number)


def _levels(value: Any, path: str) -> LevelFilter:
    try:
        return parse_levels(value)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _opt_levels(value: Any, path: str) -> LevelFilter | None:
    return None if value is None else _levels(value, path)
