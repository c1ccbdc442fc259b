"""Lamia job events per second through ``/api/v0``, against ``/api/v1/events`` in the same run.

Two ``watchkeeper serve`` processes run side by side, each on its own temporary SQLite file:

* baseline: ``POST /api/v1/events`` with one ``task.status`` event per request;
* lamia: ``POST /api/v0/bench/arr/event?arrayIndex=i`` with one job event per request (which
  the server checks against the task, stores with its job's task status, and answers with the
  process's progress).

Each side gets ``--concurrency`` keep-alive HTTP/1.1 connections, opened once, one request in
flight per connection. The load alternates between the two servers in slices of ``--slice``
seconds for ``--seconds`` seconds per side in all, so that other work on a shared machine
disturbs both sides alike. Besides requests per second, the script prints the CPU time each
server process spent per thousand events, which contention distorts much less.

With ``--sizes``, one server and one client instead: job events per second into tasks of 10,
1,000 and 10,000 solitary processes and into an array of 10,000 jobs, in turns, with the ratio
of each to the 10-process task (an event must not cost more in a bigger task).

Run from the repository root: ``python benchmarks/lamia.py [--seconds 30] [--concurrency 16]``
or ``python benchmarks/lamia.py --sizes --concurrency 1 --seconds 20``.
The load generator is a bare asyncio HTTP client so that it costs the machine little.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx
import orjson
import psutil

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def server(directory: str, name: str) -> Iterator[tuple[int, psutil.Process]]:
    """A fresh server process on its own SQLite file: its port and its process."""
    port = free_port()
    command = [sys.executable, "-m", "watchkeeper", "serve", "--db"]
    command += [os.path.join(directory, f"{name}.db"), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(15)


def request(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


@dataclass
class Side:
    """One server under load: its request maker, connections and what it achieved."""

    name: str
    port: int
    process: psutil.Process
    make: Callable[[int], bytes]
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(
        default_factory=list
    )
    ok: int = 0
    bad: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    counter: int = 0

    async def open(self, count: int) -> None:
        for _ in range(count):
            self.connections.append(await asyncio.open_connection(HOST, self.port))

    async def run(self, seconds: float, *, count: bool = True) -> None:
        """Keep every connection busy for ``seconds``."""
        cpu = self.process.cpu_times()
        start = time.perf_counter()
        deadline = start + seconds
        done = [0, 0]

        async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while time.perf_counter() < deadline:
                self.counter += 1
                writer.write(self.make(self.counter))
                done[0 if 200 <= await read_response(reader) < 300 else 1] += 1

        await asyncio.gather(*(one(r, w) for r, w in self.connections))
        if count:
            after = self.process.cpu_times()
            self.seconds += time.perf_counter() - start
            self.cpu += (after.user + after.system) - (cpu.user + cpu.system)
            self.ok += done[0]
            self.bad += done[1]

    def report(self) -> float:
        rate = self.ok / self.seconds
        per_thousand = 1000 * self.cpu / self.ok
        print(
            f"  {self.name:>15}: {self.ok:>6} events in {self.seconds:5.1f} s = "
            f"{rate:7,.0f} events/s, server CPU {per_thousand:5.2f} s per 1000 events"
        )
        return rate


def v1_request(i: int) -> bytes:
    body = {"kind": "task.status", "task": f"bench-{i % 1000}", "status": "running", "agent": "wn1"}
    return request("/api/v1/events", orjson.dumps(body))


def lamia_request(jobs: int) -> Callable[[int], bytes]:
    def make(i: int) -> bytes:
        body = {"eventClass": "BEAT", "_meta": {"host": "wn1", "time": time.time()}}
        return request(f"/api/v0/bench/arr/event?arrayIndex={i % jobs}", orjson.dumps(body))

    return make


def solitary_request(task: str, procs: int) -> Callable[[int], bytes]:
    def make(i: int) -> bytes:
        body = {"eventClass": "BEAT", "_meta": {"host": "wn1", "time": time.time()}}
        return request(f"/api/v0/{task}/p{i * 7919 % procs}/event", orjson.dumps(body))

    return make


def array_request(task: str, jobs: int) -> Callable[[int], bytes]:
    def make(i: int) -> bytes:
        body = {"eventClass": "BEAT", "_meta": {"host": "wn1", "time": time.time()}}
        return request(f"/api/v0/{task}/arr/event?arrayIndex={i % jobs}", orjson.dumps(body))

    return make


def sizes(args: argparse.Namespace) -> None:
    """Events per second by the size of the task they go to, all on one server."""
    with tempfile.TemporaryDirectory() as directory, server(directory, "sizes") as (port, proc):
        base = f"http://{HOST}:{port}/api/v0"
        sides = []
        for procs in (10, 1000, 10_000):
            processes = {f"p{i}": None for i in range(procs)}
            httpx.post(f"{base}/s{procs}", json={"processes": processes}, timeout=120)
            sides.append(
                Side(f"{procs} solitary", port, proc, solitary_request(f"s{procs}", procs))
            )
        httpx.post(f"{base}/a10000", json={"processes": {"arr": 10_000}}).raise_for_status()
        sides.append(Side("array of 10000", port, proc, array_request("a10000", 10_000)))
        asyncio.run(measure(sides, args))
    if any(side.bad for side in sides):
        raise SystemExit(f"refused requests: {[(s.name, s.bad) for s in sides]}")
    rates = [side.report() for side in sides]
    for side, rate in zip(sides[1:], rates[1:], strict=True):
        print(f"ratio {side.name} / 10 solitary: {rate / rates[0]:.2f}")


async def measure(sides: list[Side], args: argparse.Namespace) -> None:
    for side in sides:
        await side.open(args.concurrency)
        await side.run(args.warmup, count=False)
    slices = max(1, round(args.seconds / args.slice))
    for _ in range(slices):
        for side in sides:
            await side.run(args.slice)
    for side in sides:
        for _, writer in side.connections:
            writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="of load per side")
    parser.add_argument("--slice", type=float, default=1.0, help="seconds per turn")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the benchmark array")
    parser.add_argument("--sizes", action="store_true", help="rate by the size of the task")
    args = parser.parse_args()
    if args.sizes:
        sizes(args)
        return
    print(
        f"{args.concurrency} keep-alive connections per side, {args.seconds:.0f} s per side in "
        f"{args.slice:g} s turns, SQLite, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        v1_port, v1_proc = stack.enter_context(server(directory, "v1"))
        v0_port, v0_proc = stack.enter_context(server(directory, "lamia"))
        httpx.post(
            f"http://{HOST}:{v0_port}/api/v0/bench",
            json={"processes": {"arr": args.jobs}, "tags": ["bench"]},
        ).raise_for_status()
        sides = [
            Side("/api/v1/events", v1_port, v1_proc, v1_request),
            Side("/api/v0 event", v0_port, v0_proc, lamia_request(args.jobs)),
        ]
        asyncio.run(measure(sides, args))
    if any(side.bad for side in sides):
        raise SystemExit(f"refused requests: {[(s.name, s.bad) for s in sides]}")
    baseline, lamia = (side.report() for side in sides)
    print(f"ratio: {lamia / baseline:.2f} of /api/v1/events single-event requests")


if __name__ == "__main__":
    main()
