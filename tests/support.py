"""Test infrastructure: real databases and real server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

PG_ENV = "WATCHKEEPER_TEST_PG_URL"
REDIS_ENV = "WATCHKEEPER_TEST_REDIS_URL"


def require_service(env: str, what: str) -> str:
    """The URL of a real service; in CI its absence fails the run, elsewhere it skips."""
    url = os.environ.get(env)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{env} is not set: CI must run the {what} tests")
    pytest.skip(f"{what} tests skipped: set {env} (e.g. {example(env)}) to run them")
    raise AssertionError("unreachable")


def example(env: str) -> str:
    if env == PG_ENV:
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    return "redis://127.0.0.1:6379/15"


#: Databases of ended tests, dropped in batches: each DROP DATABASE waits for a checkpoint,
#: and the drops that follow one at once find next to nothing left to write.
_ENDED: list[tuple[str, str]] = []
DROP_BATCH = 10


@contextmanager
def fresh_pg_database(admin_url: str, template: str | None = None) -> Iterator[str]:
    """A brand-new PostgreSQL database for one test (empty, or a copy of ``template``),
    dropped with the next batch once the test is over (see :func:`drop_ended_databases`)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"wk_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        _ENDED.append((dsn, name))
        if len(_ENDED) >= DROP_BATCH:
            drop_ended_databases()


def drop_ended_databases() -> None:
    import psycopg

    while _ENDED:
        dsn, name = _ENDED.pop()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``watchkeeper serve`` as a real child process."""

    def __init__(
        self,
        db: str,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        log_path: str | None = None,
    ) -> None:
        self.db = db
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.args = args or []
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "watchkeeper",
                "serve",
                "--db",
                self.db,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *self.args,
            ],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
