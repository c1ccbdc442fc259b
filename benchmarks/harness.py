"""Shared pieces of the benchmarks: servers as subprocesses, fleet rows, result tables."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

HERE = pathlib.Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


@contextmanager
def server(args: list[str], port: int) -> Iterator[int]:
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    _PIDS[port] = proc.pid
    try:
        wait_healthy(port, proc)
        yield port
    finally:
        del _PIDS[port]
        proc.terminate()
        proc.wait(30)


_PIDS: dict[int, int] = {}


def server_pid(port: int) -> int:
    """The process id of the server a :func:`server` block started on ``port``."""
    return _PIDS[port]


@contextmanager
def watchkeeper(db_path: pathlib.Path, *extra: str) -> Iterator[int]:
    port = free_port()
    with server(
        [
            sys.executable,
            "-m",
            "watchkeeper",
            "serve",
            "--db",
            f"sqlite:///{db_path}",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *extra,
        ],
        port,
    ):
        yield port


@contextmanager
def bare_endpoint() -> Iterator[int]:
    port = free_port()
    with server([sys.executable, str(HERE / "bare_endpoint.py"), str(port)], port):
        yield port


def task_events(start: int, count: int) -> list[dict]:
    """Seed-000 task messages: each task goes created → submitted → finished."""
    out = []
    statuses = ("created", "submitted", "finished")
    for n in range(start, start + count):
        task_id, step = divmod(n, 3)
        out.append(
            {
                "id_task": task_id,
                "datetime": f"2024-05-01 10:{(n // 60) % 60:02d}:{n % 60:02d}.000",
                "level": "info",
                "status": statuses[step],
                "created_by": task_id % 7,
                "assigned_to": 700 + task_id % 200,
            }
        )
    return out


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
