"""Commands to agents: round trip and throughput, on the database queue and on Redis.

Round trip: submit ``execute true`` → a real ``watchkeeper agent`` takes it, runs it, posts
the result → the result is visible to a waiting ``GET /api/v1/commands/{id}?wait=``; p50 and
p99 over sequential commands. The floor, measured in the same run, is a redis-py ``LPUSH`` →
``BRPOP`` round trip. Throughput: 10 agents, commands sent to them round-robin from 20
threads, each thread waiting for its results (``execute true``, then ``ping``, which runs
no program), and the CPU the agent processes spent per command meanwhile (their own, not the
programs they ran): a figure the machine's load moves far less than the rates.

    .venv/bin/python -m benchmarks.commands [--redis redis://127.0.0.1:6379/15] [--n 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
from benchmarks import harness

ADMIN = "bench-admin-token"
AGENT = "bench-agent-token"


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


TRUE = ("execute", {"name": "true"})


def round_trip(http: httpx.Client, nid: int, command: tuple[str, dict] = TRUE) -> float:
    start = time.perf_counter()
    body = {"gid": 1, "nid": nid, "cmd": command[0], "args": command[1]}
    cid = http.post("/api/v1/commands", json=body).json()["id"]
    record = http.get(f"/api/v1/commands/{cid}", params={"wait": 30}).json()
    if record["state"] != "SUCCESS":
        raise RuntimeError(f"command ended {record['state']}: {record.get('data')}")
    return time.perf_counter() - start


def measure(base: pathlib.Path, extra: list[str], n: int, count: int, seconds: float) -> dict:
    os.environ.update({"WATCHKEEPER_ADMIN_TOKEN": ADMIN, "WATCHKEEPER_AGENT_TOKEN": AGENT})
    with harness.watchkeeper(base / "wk.db", *extra) as port, agents(base, port, count) as procs:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for nid in range(1, count + 1):  # every agent up and polling
                round_trip(http, nid)
            times = [round_trip(http, 1) for _ in range(n)]

        def worker(k: int, command: tuple[str, dict]) -> int:
            done = 0
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                while time.monotonic() < deadline:
                    round_trip(http, 1 + (k + done) % count, command)
                    done += 1
            return done

        rates, cpu = {}, {}
        for command in (TRUE, ("ping", {})):
            deadline = time.monotonic() + seconds
            start, spent = time.monotonic(), cpu_seconds(procs)
            with ThreadPoolExecutor(20) as pool:
                total = sum(pool.map(worker, range(20), [command] * 20))
            rates[command[0]] = total / (time.monotonic() - start)
            cpu[command[0]] = (cpu_seconds(procs) - spent) / max(total, 1)
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), "rates": rates, "cpu": cpu}


def cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    """User and system CPU of the agent processes themselves (not their programs)."""
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default=os.environ.get("WATCHKEEPER_TEST_REDIS_URL"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    rows = []
    if args.redis:
        floor = redis_floor(args.redis, 1000)
        rows.append(("redis-py LPUSH → BRPOP (floor)", floor, None))
    queues = [("database (SQLite)", [])]
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        queues.append(("Redis", ["--redis", args.redis]))
    results = {}
    for name, extra in queues:
        with tempfile.TemporaryDirectory(prefix="wk-cmd-bench-") as tmp:
            results[name] = measure(pathlib.Path(tmp), extra, args.n, args.agents, args.seconds)
    lines = [
        ("queue", "p50 ms", "p99 ms", "× floor p50", f"execute true/s ({args.agents} agents)",
         "ping/s", "agent CPU ms/execute", "agent CPU ms/ping"),
    ]  # fmt: skip
    floor_p50 = statistics.median(floor) if args.redis else None
    if args.redis:
        lines.append(
            (
                rows[0][0],
                f"{floor_p50 * 1e3:.3f}",
                f"{pct(floor, 0.99) * 1e3:.3f}",
                "1",
                "",
                "",
                "",
                "",
            )  # fmt: skip
        )
    for name, r in results.items():
        ratio = f"{r['p50'] / floor_p50:.0f}" if floor_p50 else "-"
        lines.append(
            (
                name,
                f"{r['p50'] * 1e3:.1f}",
                f"{r['p99'] * 1e3:.1f}",
                ratio,
                f"{r['rates']['execute']:.0f}",
                f"{r['rates']['ping']:.0f}",
                f"{r['cpu']['execute'] * 1e3:.2f}",
                f"{r['cpu']['ping'] * 1e3:.2f}",
            )
        )
    print(harness.table(lines))


if __name__ == "__main__":
    main()
