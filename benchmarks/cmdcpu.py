"""The server's CPU time per request of a command's round trip, route by route.

One client sends ``--n`` sequential authenticated requests to each of the four routes in turn
(submit, the caller's ``GET /api/v1/commands/{id}?wait=0``, the agent's ``GET .../cmd?wait=0``
taking one command, its result post) to a real ``watchkeeper serve``; the server process's
user + system time (``/proc``) over each batch, divided by ``--n``. The event writer process
(the ``command.sent`` and ``command.result`` events) is not counted. Commands go to 10 agents
round-robin; no agent runs, the client plays their part.

    .venv/bin/python -m benchmarks.cmdcpu [--n 2000] [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time
from collections.abc import Callable

import httpx
from benchmarks import harness

ADMIN = "bench-admin-token"
AGENT = "bench-agent-token"
AGENTS = 10


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(pid: int, n: int, request: Callable[[int], None]) -> tuple[float, float]:
    """Server CPU µs and wall-clock µs per request."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    for i in range(n):
        request(i)
    return (cpu_seconds(pid) - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def measure(base: pathlib.Path, extra: list[str], n: int) -> dict[str, tuple[float, float]]:
    os.environ.update({"WATCHKEEPER_ADMIN_TOKEN": ADMIN, "WATCHKEEPER_AGENT_TOKEN": AGENT})
    with harness.watchkeeper(base / "wk.db", *extra) as port:
        pid = harness.server_pid(port)
        url = f"http://127.0.0.1:{port}"
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"})
        agent = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {AGENT}"})
        ids: list[str] = []
        taken: list[dict] = []

        def submit(i: int) -> None:
            body = {"gid": 1, "nid": 1 + i % AGENTS, "cmd": "ping"}
            answer = admin.post("/api/v1/commands", json=body)
            answer.raise_for_status()
            ids.append(answer.json()["id"])

        def wait(i: int) -> None:
            admin.get(f"/api/v1/commands/{ids[i]}", params={"wait": 0}).raise_for_status()

        def take(i: int) -> None:
            answer = agent.get(f"/api/v1/agents/1/{1 + i % AGENTS}/cmd", params={"wait": 0})
            if answer.status_code != 200:
                raise RuntimeError(f"no command to take: {answer.status_code}")
            taken.append(answer.json())

        def result(i: int) -> None:
            command = taken[i]
            body = {"id": command["id"], "state": "SUCCESS", "level": 20, "data": "pong"}
            path = f"/api/v1/agents/1/{command['nid']}/result"
            agent.post(path, json=body).raise_for_status()

        try:
            for warm in (submit, wait, take, result):
                warm(0)
            ids.clear()
            taken.clear()
            return {
                "POST /api/v1/commands": timed(pid, n, submit),
                "GET /api/v1/commands/{id}?wait=0": timed(pid, n, wait),
                "GET /api/v1/agents/{gid}/{nid}/cmd?wait=0": timed(pid, n, take),
                "POST /api/v1/agents/{gid}/{nid}/result": timed(pid, n, result),
            }
        finally:
            admin.close()
            agent.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default=os.environ.get("WATCHKEEPER_TEST_REDIS_URL"))
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    queues = [("SQLite", [])]
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        queues.append(("Redis", ["--redis", args.redis]))
    lines = [("queue", "route", "server CPU µs/request", "wall µs/request")]
    for name, extra in queues:
        with tempfile.TemporaryDirectory(prefix="wk-cmdcpu-") as tmp:
            for route, (cpu, wall) in measure(pathlib.Path(tmp), extra, args.n).items():
                lines.append((name, route, f"{cpu:.0f}", f"{wall:.0f}"))
    print(harness.table(lines))


if __name__ == "__main__":
    main()
