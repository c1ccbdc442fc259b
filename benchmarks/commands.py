"""Commands to agents: round trip and throughput, on the database queue and on Redis.

Round trip: submit ``execute true`` → a real ``watchkeeper agent`` takes it, runs it, posts
the result → the result is visible to a waiting ``GET /api/v1/commands/{id}?wait=``; p50 and
p99 over sequential commands. The floor, measured in the same run, is a redis-py ``LPUSH`` →
``BRPOP`` round trip. Throughput: 10 agents, commands sent to them round-robin by 20 callers,
each waiting for its results (``execute true``, then ``ping``, which runs no program). On
Redis, also the original client's way: ``LPUSH`` onto ``cmds_queue``, ``BLPOP`` of
``cmds_queue_<id>``. Beside each rate, the CPU the server (with its writer process) and the
agent processes (their own, not the programs they ran) spent per command: figures the
machine's other load moves far less than the rates.

The callers are asyncio tasks of one process on aiohttp (and redis-py's asyncio client), so
that the measure is of the server and the agents more than of the callers' HTTP library.

    .venv/bin/python -m benchmarks.commands [--redis redis://127.0.0.1:6379/15] [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import aiohttp
import orjson
import psutil
from benchmarks import harness

ADMIN = "bench-admin-token"
AGENT = "bench-agent-token"
CALLERS = 20
#: The rates measured, as the table names them.
KINDS = [
    ("execute", "execute true"),
    ("ping", "ping"),
    ("redis ping", "ping, original client over Redis"),
]

Command = tuple[str, dict[str, Any]]
TRUE: Command = ("execute", {"name": "true"})
PING: Command = ("ping", {})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def redis_floor(url: str, n: int) -> list[float]:
    import redis

    client = redis.Redis.from_url(url)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.lpush("bench_floor", b"x")
        client.brpop(["bench_floor"], timeout=1)
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def agents(base: pathlib.Path, port: int, count: int) -> Iterator[list[psutil.Process]]:
    procs = []
    for nid in range(1, count + 1):
        config = base / f"agent{nid}.toml"
        config.write_text(
            f"[agent]\ngid = 1\nnid = {nid}\nheartbeat_interval = 30\n"
            f'[cmds]\nallow_execute = ["true"]\nwait = 30\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "watchkeeper",
                    "agent",
                    "--config",
                    str(config),
                    "--server",
                    f"http://127.0.0.1:{port}",
                    "--token",
                    AGENT,
                    "--data-dir",
                    str(base / f"data{nid}"),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        )
    try:
        yield [psutil.Process(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


RoundTrip = Callable[[int, Command], Awaitable[None]]


def over_http(http: aiohttp.ClientSession) -> RoundTrip:
    async def round_trip(nid: int, command: Command) -> None:
        body = orjson.dumps({"gid": 1, "nid": nid, "cmd": command[0], "args": command[1]})
        async with http.post("/api/v1/commands", data=body) as answer:
            cid = (await answer.json())["id"]
        async with http.get(f"/api/v1/commands/{cid}", params={"wait": 30}) as answer:
            record = await answer.json()
        if record["state"] != "SUCCESS":
            raise RuntimeError(f"command ended {record['state']}: {record.get('data')}")

    return round_trip


def over_redis(client: Any) -> RoundTrip:
    """The original Python client: ``LPUSH cmds_queue``, then ``BLPOP cmds_queue_<id>``."""

    async def round_trip(nid: int, command: Command) -> None:
        cid = str(uuid.uuid4())
        body = {"id": cid, "gid": 1, "nid": nid, "cmd": command[0], "args": command[1]}
        await client.lpush("cmds_queue", orjson.dumps(body))
        popped = await client.blpop([f"cmds_queue_{cid}"], timeout=30)
        result = orjson.loads(popped[1]) if popped else {"state": "no answer"}
        if result["state"] != "SUCCESS":
            raise RuntimeError(f"command ended {result['state']}: {result.get('data')}")

    return round_trip


def cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    return float(sum(t.user + t.system for t in (p.cpu_times() for p in procs)))


class Meter:
    """Commands per second, and the CPU per command of the server's and the agents' processes."""

    def __init__(self, server: list[psutil.Process], agents: list[psutil.Process]) -> None:
        self.server, self.agents = server, agents
        self.found: dict[str, tuple[float, float, float]] = {}

    async def rate(
        self, name: str, round_trip: RoundTrip, command: Command, seconds: float
    ) -> None:
        spent = cpu_seconds(self.server), cpu_seconds(self.agents)
        start = time.monotonic()
        total = await rate(round_trip, command, len(self.agents), seconds)
        elapsed = time.monotonic() - start
        done = max(total * elapsed, 1)
        self.found[name] = (
            total,
            (cpu_seconds(self.server) - spent[0]) / done,
            (cpu_seconds(self.agents) - spent[1]) / done,
        )


async def rate(round_trip: RoundTrip, command: Command, agents: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds

    async def caller(k: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            await round_trip(1 + (k + done) % agents, command)
            done += 1
        return done

    start = time.monotonic()
    total = sum(await asyncio.gather(*(caller(k) for k in range(CALLERS))))
    return total / (time.monotonic() - start)


async def drive(
    url: str, redis_url: str | None, n: int, meter: Meter, seconds: float
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=2 * CALLERS)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as http:
        round_trip = over_http(http)
        for nid in range(1, len(meter.agents) + 1):  # every agent up and polling
            await round_trip(nid, TRUE)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            await round_trip(1, TRUE)
            times.append(time.perf_counter() - start)
        for command in (TRUE, PING):
            await meter.rate(command[0], round_trip, command, seconds)
    if redis_url is not None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url, max_connections=2 * CALLERS)
        try:
            await meter.rate("redis ping", over_redis(client), PING, seconds)
        finally:
            await client.aclose()
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), **meter.found}


def measure(
    base: pathlib.Path, redis_url: str | None, n: int, count: int, seconds: float
) -> dict[str, Any]:
    os.environ.update({"WATCHKEEPER_ADMIN_TOKEN": ADMIN, "WATCHKEEPER_AGENT_TOKEN": AGENT})
    extra = ["--redis", redis_url] if redis_url else []
    with harness.watchkeeper(base / "wk.db", *extra) as port, agents(base, port, count) as procs:
        server = psutil.Process(harness.server_pid(port))
        meter = Meter([server, *server.children(recursive=True)], procs)
        url = f"http://127.0.0.1:{port}"
        return asyncio.run(drive(url, redis_url, n, meter, seconds))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default=os.environ.get("WATCHKEEPER_TEST_REDIS_URL"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    queues: list[tuple[str, str | None]] = [("database (SQLite)", None)]
    if args.redis:
        import redis

        floor = redis_floor(args.redis, 1000)
        redis.Redis.from_url(args.redis).flushdb()
        queues.append(("Redis", args.redis))
    results = {}
    for name, redis_url in queues:
        with tempfile.TemporaryDirectory(prefix="wk-cmd-bench-") as tmp:
            results[name] = measure(pathlib.Path(tmp), redis_url, args.n, args.agents, args.seconds)
    lines: list[tuple[str, ...]] = [
        ("queue", "p50 ms", "p99 ms", "× floor p50", "commands", f"/s ({args.agents} agents)",
         "server CPU ms/command", "agents' CPU ms/command"),
    ]  # fmt: skip
    floor_p50 = statistics.median(floor) if args.redis else None
    if floor_p50 is not None:
        lines.append(
            ("redis-py LPUSH → BRPOP (floor)", f"{floor_p50 * 1e3:.3f}",
             f"{pct(floor, 0.99) * 1e3:.3f}", "1", "", "", "", "")
        )  # fmt: skip
    for name, r in results.items():
        ratio = f"{r['p50'] / floor_p50:.0f}" if floor_p50 else "-"
        first = (name, f"{r['p50'] * 1e3:.1f}", f"{r['p99'] * 1e3:.1f}", ratio)
        for kind, label in KINDS:
            if kind in r:
                per_s, server, agent = r[kind]
                lines.append(
                    (*first, label, f"{per_s:.0f}", f"{server * 1e3:.2f}", f"{agent * 1e3:.2f}")
                )
                first = ("", "", "", "")
    print(harness.table(lines))


if __name__ == "__main__":
    main()
