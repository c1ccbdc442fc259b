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
import tomllib
from dataclasses import dataclass, field
from typing import Any

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
        if self.writer not in ("process", "thread"):
            raise ConfigError("writer must be 'process' or 'thread'")
        if not 1 <= self.state_max_depth <= 500:
            raise ConfigError("state_max_depth must be between 1 and 500")
        name = self.state_expired_path
        if not name or name.startswith("$") or "." in name or "/" in name:
            raise ConfigError("state_expired_path must be one top-level key (no . / or $)")
        if self.inputs or self.kpis:
            from watchkeeper.inputs.settings import check  # the inputs read this module

            check(self.inputs, self.kpis)
        if not self.tokens and not is_loopback(self.host) and not self.insecure:
            raise ConfigError(
                f"refusing to serve on {self.host} without tokens: set WATCHKEEPER_ADMIN_TOKEN "
                "(or [auth] in the config file), or pass --insecure to allow anonymous access"
            )


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
