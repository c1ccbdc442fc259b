"""Lamia job events per second: the original Lamia server against watchkeeper, in the same run.

The original monitoring server (CrankOne/lamia, branch ``development``: Flask, flask-restful,
SQLAlchemy, marshmallow, served by waitress as its own ``app.py`` does) runs from its sources
in a virtual environment of its own, next to a ``watchkeeper serve``; each on a temporary
SQLite file of its own. Both get the same task of ``--procs`` solitary processes and the same
single-client workload: one keep-alive connection, one request in flight, each request a
``BEAT`` of another process (``POST /api/v0/<task>/p<i>/event``). The load alternates between
the two servers in slices of ``--slice`` seconds, so that other work on a shared machine
disturbs both alike, and the script prints events/s of each and the ratio.

Prepare the original once (a virtual environment with the 2021 releases it was written
against, and its sources extracted from a git directory holding the repository)::

    python -m benchmarks.lamia_original setup --git-dir /path/to/lamia.git --into /tmp/lamia-orig

then, from the repository root::

    python -m benchmarks.lamia_original run --original /tmp/lamia-orig --procs 10,1000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson
import psutil
from benchmarks.lamia import HOST, Side, free_port, measure, request, server

#: The releases of Lamia's dependencies current when its monitoring server was last changed
#: (September 2021); later Flask-SQLAlchemy, marshmallow-sqlalchemy and flask-marshmallow
#: releases dropped APIs it uses.
PINS = [
    "flask==2.0.3",
    "werkzeug==2.0.3",
    "jinja2==3.0.3",
    "itsdangerous==2.0.1",
    "flask-sqlalchemy==2.5.1",
    "SQLAlchemy==1.4.46",
    "flask-restful==0.3.9",
    "flask-cors==3.0.10",
    "flask-marshmallow==0.14.0",
    "marshmallow==3.13.0",
    "marshmallow-sqlalchemy==0.26.1",
    "marshmallow-oneofschema==3.0.1",
    "waitress==2.0.0",
    "pyyaml",
    "requests",
    "networkx<3",
]

#: What ``python -m lamia.monitoring.app`` does, with a configuration of our own: SQLite at a
#: given path, warnings only (its shipped configuration logs to files under /var/log).
RUN_ORIGINAL = """
import sys, waitress
sys.path.insert(0, sys.argv[1])
from lamia.monitoring.app import create_app
cfg = {"logging": {"version": 1, "root": {"level": "WARNING", "handlers": []}},
       "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[2],
       "SQLALCHEMY_TRACK_MODIFICATIONS": False, "SECRET_KEY": "bench"}
waitress.serve(create_app(cfg), host=sys.argv[3], port=int(sys.argv[4]))
"""


def setup(git_dir: str, into: Path) -> None:
    """Extract the original's ``development`` branch into ``into`` and give it a venv."""
    archive = subprocess.run(
        ["git", "--git-dir", git_dir, "archive", "development"], check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    venv = into / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PINS], check=True)
    print(f"the original is ready in {into} (python: {venv / 'bin' / 'python'})")


@contextmanager
def original_server(source: Path, directory: str) -> Iterator[tuple[int, psutil.Process]]:
    """The original Lamia server on a free loopback port and a fresh SQLite file."""
    port = free_port()
    python = source / ".venv" / "bin" / "python"
    database = os.path.join(directory, "original.db")
    log = Path(directory, "original.log")
    proc = subprocess.Popen(
        [str(python), "-c", RUN_ORIGINAL, str(source), database, HOST, str(port)],
        stdout=subprocess.DEVNULL,  # its progress code prints a line per computation
        stderr=log.open("wb"),  # a warning per GET: a pipe nobody reads would fill up
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://{HOST}:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"the original did not start: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the original did not start in 60 s")
            time.sleep(0.1)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(15)


def beats(task: str, procs: int) -> Callable[[int], bytes]:
    """Each request a ``BEAT`` of another solitary process, as a shell job would send it."""

    def make(i: int) -> bytes:
        body = {"eventClass": "BEAT", "_meta": {"host": "wn1", "time": time.time()}}
        return request(f"/api/v0/{task}/p{i * 7919 % procs}/event", orjson.dumps(body))

    return make


def create(port: int, task: str, procs: int) -> None:
    body = {"processes": {f"p{i}": None for i in range(procs)}, "tags": ["bench"]}
    body["_meta"] = {"host": "submit01", "time": time.time()}
    r = httpx.post(f"http://{HOST}:{port}/api/v0/{task}", json=body, timeout=600)
    if r.status_code != 201:
        raise SystemExit(f"creating {task} on port {port}: {r.status_code} {r.text[:300]}")


def run(args: argparse.Namespace) -> None:
    sizes = [int(n) for n in args.procs.split(",")]
    print(
        f"one client connection, {args.seconds:g} s per side and size in {args.slice:g} s "
        f"turns, SQLite, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        ours_port, ours = stack.enter_context(server(directory, "ours"))
        orig_port, orig = stack.enter_context(original_server(Path(args.original), directory))
        pairs = []
        for procs in sizes:
            task = f"s{procs}"
            create(orig_port, task, procs)
            create(ours_port, task, procs)
            pairs.append(
                (
                    Side(f"original {procs}", orig_port, orig, beats(task, procs)),
                    Side(f"ours {procs}", ours_port, ours, beats(task, procs)),
                )
            )
        args.concurrency = 1
        for pair in pairs:  # one size at a time: an idle connection is closed after 5 s
            asyncio.run(measure(list(pair), args))
    for original, ours_side in pairs:
        if original.bad or ours_side.bad:
            raise SystemExit(f"refused requests: {original.bad} / {ours_side.bad}")
        rate_original, rate_ours = original.report(), ours_side.report()
        print(f"  ratio ours / original: {rate_ours / rate_original:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("setup", help="extract the original and give it a venv")
    prepare.add_argument("--git-dir", required=True, help="a git directory of CrankOne/lamia")
    prepare.add_argument("--into", type=Path, required=True)
    bench = commands.add_parser("run", help="measure both servers")
    bench.add_argument("--original", required=True, help="the directory `setup` filled")
    bench.add_argument("--procs", default="1000", help="comma-separated task sizes")
    bench.add_argument("--seconds", type=float, default=10.0, help="of load per side and size")
    bench.add_argument("--slice", type=float, default=1.0, help="seconds per turn")
    bench.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.git_dir, args.into)
    else:
        run(args)


if __name__ == "__main__":
    main()
