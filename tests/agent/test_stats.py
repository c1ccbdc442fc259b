"""Process statistics of a real process tree, and the metric events a program produces."""

from __future__ import annotations

import asyncio
import subprocess
import time

from tests.agent.harness import PY, events, make_agent, run_until
from watchkeeper.agent.stats import Sampler

BUSY_TREE = (
    "import subprocess, sys, time\n"
    "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])"
    " for _ in range(2)]\n"
    "end = time.time() + 30\n"
    "while time.time() < end: pass\n"
)


def test_a_tree_is_summed_and_cpu_measured_between_samples():
    proc = subprocess.Popen([PY, "-c", BUSY_TREE])
    try:
        sampler = Sampler()
        deadline = time.monotonic() + 10
        first = sampler.sample([proc.pid])
        while first["processes"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            first = sampler.sample([proc.pid])
        time.sleep(0.3)
        second = sampler.sample([proc.pid, proc.pid])  # the same root twice counts once
        assert second["processes"] == 3
        assert second["cpu"] > 0  # the parent spins
        assert second["rss"] > 3 * 1_000_000 and second["vms"] >= second["rss"]
        assert second["threads"] >= 3 and second["open_files"] >= 3
    finally:
        proc.kill()
        proc.wait()
    assert Sampler().sample([proc.pid])["processes"] == 0


def test_a_program_reports_its_stats_and_statsd_series(tmp_path):
    script = (
        "import time\n"
        "for _ in range(200):\n"
        "    print('10::hits:1|c', flush=True)\n"
        "    print('10::latency:5|ms', flush=True)\n"
        "    time.sleep(0.01)\n"
        "time.sleep(30)\n"
    )
    agent = make_agent(tmp_path, {"p": {"command": PY, "args": ["-c", script]}}, stats_interval=0.3)

    def series() -> dict[str, float]:
        found: dict[str, float] = {}
        for event in events(agent, "metric.series"):
            for name, value in event["series"]:
                found[name] = found.get(name, 0) + (value if name.endswith(".hits") else 0)
                if not name.endswith(".hits"):
                    found[name] = value
        return found

    asyncio.run(run_until(agent, lambda: series().get("1.7.default.p.hits", 0) >= 200))
    found = series()
    assert found["1.7.default.p.hits"] == 200  # counted once, across flushes
    assert found["1.7.default.p.latency.mean"] == 5
    assert found["1.7.default.p.rss"] > 0 and found["1.7.default.p.processes"] == 1
    metric = events(agent, "metric.series")[0]
    assert (metric["agent"], metric["domain"], metric["name"]) == ("1.7", "default", "p")
