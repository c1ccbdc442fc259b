"""Server settings and where they come from.

Every option can be given on the command line, as ``WATCHKEEPER_<OPTION>`` in the environment,
or in a TOML file (``--config``); the command line wins over the environment, which wins over
the file, which wins over the defaults here. The CLI resolves that order (Click does it for
options); this module holds the result and reads the file.
"""

from __future__ import annotations

import ipaddress
import os
import pathlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.events.model import LEVELS

ROLES = ("admin", "ingest", "read", "agent")
DEFAULT_DB = "sqlite:///watchkeeper.db"


class ConfigError(ValueError):
    """A setting is missing or wrong; the CLI prints it and exits with status 2."""


@dataclass(slots=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 7070
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_events: int = 100_000
    #: The most buckets a bucketed chart answers, and the most spans a span chart answers.
    max_buckets: int = 10_000
    max_spans: int = 50_000
    #: Bytes of stream frames a live-stream client may fall behind before it is disconnected
    #: (it reconnects and resumes from the log).
    stream_backlog_bytes: int = 1024 * 1024
    stale_after: float = 30.0
    offline_after: float = 120.0
    incident_window: float = 120.0
    #: Seconds without an event after which a running Lamia job is flagged stale.
    lamia_stale_after: float = 600.0
    sqlite_synchronous: str = "FULL"
    #: Where events are stored: "process" (a writer process of its own, using a second core)
    #: or "thread" (a thread of the server process).
    writer: str = "process"
    insecure: bool = False
    #: Host names the server answers for besides loopback, its bound address and its machine
    #: name: ``name``, ``.domain`` (the domain and every name under it) or ``*`` (any).
    allowed_hosts: tuple[str, ...] = ()
    #: token -> role; empty means anonymous access (allowed on loopback only).
    tokens: dict[str, str] = field(default_factory=dict)
    #: Live state: deepest key path accepted, where folded totals of expired counters are shown,
    #: and the host-name prefixes of the roles intents are resolved with.
    state_max_depth: int = 64
    state_expired_path: str = "_expired_totals"
    state_roles: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"scraper": ("scraper",), "spotter": ("spotter",)}
    )
    #: Seconds a log record is kept, by its severity (a severity not named is kept for ever),
    #: and seconds between the passes that delete what expired.
    log_retention: dict[str, float] = field(default_factory=lambda: dict(LOG_RETENTION))
    log_prune_interval: float = 60.0

    #: The command queue: Redis (``redis://...``, shared by servers) instead of the database;
    #: seconds a command waits for its agent, seconds a record and its result are kept, and
    #: the longest long poll.
    redis: str | None = None
    command_ttl: float = 600.0
    command_result_ttl: float = 86400.0
    command_max_wait: float = 60.0
    #: Commands one agent may have waiting; more are refused (429).
    command_max_queued: int = 10_000

    #: The statsd input: a UDP port (None: off; 0: any free port), the address it binds (the
    #: server's host when None), the flush interval, the timer percentiles and the receive
    #: buffer asked of the kernel.
    statsd_port: int | None = None
    statsd_host: str | None = None
    statsd_flush_interval: float = 10.0
    statsd_percentiles: tuple[float, ...] = (90.0,)
    statsd_rcvbuf: int = 16 * 1024 * 1024
    #: ``/metrics``: seconds after its last sample an agent's or statsd series disappears, and
    #: the prefix of statsd series' names there.
    metrics_stale_after: float = 300.0
    metrics_statsd_prefix: str = "statsd_"
    #: The ``[[inputs]]`` tables (files to follow, commands to supervise) and the ``[kpis]``
    #: table, as read from the file (checked by ``watchkeeper.inputs.settings``).
    inputs: tuple[Any, ...] = ()
    kpis: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.offline_after < self.stale_after:
            raise ConfigError("offline_after must not be shorter than stale_after")
        if self.sqlite_synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ConfigError("sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
        if min(self.max_buckets, self.max_spans, self.stream_backlog_bytes) < 1:
            raise ConfigError("max_buckets, max_spans and stream_backlog_bytes must be positive")
        if self.statsd_flush_interval <= 0 or self.statsd_rcvbuf < 1:
            raise ConfigError("statsd_flush_interval and statsd_rcvbuf must be positive")
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", self.metrics_statsd_prefix):
            raise ConfigError("metrics_statsd_prefix must be a valid Prometheus metric name")
        if not all(0 < p <= 100 for p in self.statsd_percentiles):
            raise ConfigError("statsd percentiles must be in (0, 100]")
        if self.writer not in ("process", "thread"):
            raise ConfigError("writer must be 'process' or 'thread'")
        if not 1 <= self.state_max_depth <= 500:
            raise ConfigError("state_max_depth must be between 1 and 500")
        name = self.state_expired_path
        if not name or name.startswith("$") or "." in name or "/" in name:
            raise ConfigError("state_expired_path must be one top-level key (no . / or $)")
        keep = self.log_retention
        if set(keep) - set(LEVELS) or min(keep.values(), default=1) <= 0:
            raise ConfigError(f"log_retention: positive seconds for any of {', '.join(LEVELS)}")
        if self.redis is not None and not self.redis.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError("redis must be a redis://, rediss:// or unix:// URL")
        if min(self.command_ttl, self.command_result_ttl) <= 0 or self.command_max_wait < 0:
            raise ConfigError("command_ttl and command_result_ttl must be positive")
        if self.inputs or self.kpis:
            from watchkeeper.inputs.settings import check  # the inputs read this module

            check(self.inputs, self.kpis)
        if not self.tokens and not is_loopback(self.host) and not self.insecure:
            raise ConfigError(
                f"refusing to serve on {self.host} without tokens: set WATCHKEEPER_ADMIN_TOKEN "
                "(or [auth] in the config file), or pass --insecure to allow anonymous access"
            )


#: Log records by severity: debug for a day, chatter for a week, problems for a quarter.
LOG_RETENTION = {
    "debug": 86_400.0,
    "info": 7 * 86_400.0,
    "warning": 30 * 86_400.0,
    "error": 90 * 86_400.0,
    "critical": 90 * 86_400.0,
}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_retention(values: list[str]) -> dict[str, float]:
    """``severity=duration`` pairs (``info=7d``, ``debug=3600``) over the default retention."""
    keep = dict(LOG_RETENTION)
    for value in values:
        severity, sep, text = value.partition("=")
        text = text.strip().lower()
        unit = _DURATION_UNITS.get(text[-1:], 0) if text else 0
        try:
            seconds = float(text[:-1] if unit else text) * (unit or 1)
        except ValueError:
            seconds = 0.0
        if not sep or severity.strip() not in LEVELS or not 0 < seconds < float("inf"):
            raise ConfigError(
                f"log retention {value!r}: expected SEVERITY=DURATION (e.g. info=7d), "
                f"SEVERITY one of {', '.join(LEVELS)}"
            )
        keep[severity.strip()] = seconds
    return keep


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_file(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The TOML config file as a dict (empty when no file is given)."""
    if not path:
        return {}
    file = pathlib.Path(path)
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file}: {exc}") from None


def parse_roles(values: list[str]) -> dict[str, tuple[str, ...]]:
    """``role=prefix`` pairs (a role may be given several prefixes) as a role map."""
    roles: dict[str, list[str]] = {}
    for value in values:
        role, sep, prefix = value.partition("=")
        if not sep or not role.strip() or not prefix.strip():
            raise ConfigError(f"state role {value!r}: expected ROLE=HOST_PREFIX")
        roles.setdefault(role.strip(), []).append(prefix.strip())
    return {role: tuple(prefixes) for role, prefixes in roles.items()}


def tokens_from(
    file_auth: dict[str, Any] | None, env: dict[str, str] | None = None
) -> dict[str, str]:
    """Collect tokens from the ``[auth]`` table and ``WATCHKEEPER_<ROLE>_TOKEN`` variables.

    ``[auth]`` takes ``admin_token = "..."`` or ``admin_tokens = ["...", ...]`` per role. The
    environment adds to the file rather than replacing it, so an operator can inject one more
    token without rewriting the file.
    """
    env = os.environ if env is None else env
    tokens: dict[str, str] = {}
    auth = file_auth or {}
    for role in ROLES:
        values: list[Any] = []
        single = auth.get(f"{role}_token")
        if single:
            values.append(single)
        values.extend(auth.get(f"{role}_tokens", []) or [])
        from_env = env.get(f"WATCHKEEPER_{role.upper()}_TOKEN")
        if from_env:
            values.append(from_env)
        for value in values:
            if not isinstance(value, str) or len(value) < 8:
                raise ConfigError(f"{role} tokens must be strings of at least 8 characters")
            tokens[value] = role
    return tokens
