"""The aggregator against the reference statsd daemon (npm ``statsd``, installed with npm on
the first run): the same packet, the same flushed values."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import time

import pytest
from benchmarks.statsd import reference_dir

from tests.support import free_port
from watchkeeper.statsd import Statsd

#: A backend writing each flush as one JSON line, so the test reads what the daemon computed.
BACKEND = """
const fs = require('fs');
exports.init = function (startup, config, events) {
  events.on('flush', function (ts, m) {
    const sets = {};
    for (const k in m.sets) sets[k] = m.sets[k].size();
    fs.appendFileSync(process.env.FLUSHES, JSON.stringify(
      {counters: m.counters, gauges: m.gauges, timers: m.timer_data, sets: sets}) + '\\n');
  });
  return true;
};
"""


def packet() -> str:
    rng = random.Random(14)
    lines = [
        *(f"g:{v}|g" for v in ("+1", "+4", "-2", "+4.5")),
        *(f"c:{v}|c" for v in (1, 2, 1, 0.5)),
        *(f"s:{v}|s" for v in ("azmy", "yahia", "yahia", "yahia", "azmy")),
        *(f"t:{v}|ms" for v in (100, 150, 90, 122, 70)),
        "rated:1|c|@0.1",
        "rated:3|c|@0.5",
        "rt:10|ms|@0.25",
        "rt:30|ms|@0.25",
        "multi:1|c:2|c:7|ms",
        *(f"lat:{rng.randint(1, 5000)}|ms" for _ in range(237)),
        "down:-3|g",
    ]
    return "\n".join(lines)


def test_the_reference_daemon_flushes_the_same_values(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("Node.js not installed (.ci/run installs nodejs and npm)")
    home = reference_dir()
    if home is None:
        pytest.skip("npm not installed (.ci/run installs it)")
    backend = tmp_path / "jsonl_backend.js"
    backend.write_text(BACKEND)
    flushes = tmp_path / "flushes.jsonl"
    udp = free_port()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "address": "127.0.0.1",
                "port": udp,
                "mgmt_port": free_port(),
                "mgmt_address": "127.0.0.1",
                "flushInterval": 500,
                "percentThreshold": [90],
                "backends": [str(backend)],
            }
        )
    )
    proc = subprocess.Popen(
        ["node", "stats.js", str(config)],
        cwd=home,
        env={"FLUSHES": str(flushes), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not flushes.exists():  # a first (empty) flush: the daemon is listening
            assert proc.poll() is None and time.monotonic() < deadline, "statsd did not start"
            time.sleep(0.1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(packet().encode(), ("127.0.0.1", udp))  # one datagram: one flush
        theirs = None
        while theirs is None:
            assert time.monotonic() < deadline, "the packet never appeared in a flush"
            for line in flushes.read_text().splitlines():
                flushed = json.loads(line)
                if "c" in flushed["counters"]:
                    theirs = flushed
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)

    agg = Statsd("", percentiles=(90,), percentile_stats=("upper", "mean", "sum", "count"))
    assert agg.feed(packet()) == []
    ours = {name: value for name, value, _ in agg.flush()}
    counters = {k: v for k, v in theirs["counters"].items() if not k.startswith("statsd.")}
    for key, value in counters.items():
        assert ours[key] == pytest.approx(value), key
    gauges = {k: v for k, v in theirs["gauges"].items() if not k.startswith("statsd.")}
    for key, value in gauges.items():
        assert ours[key] == pytest.approx(value), key
    for key, value in theirs["sets"].items():
        assert ours[key] == value, key
    stats = ("count", "mean", "lower", "upper", "sum", "upper_90", "mean_90", "sum_90", "count_90")
    for key, data in theirs["timers"].items():
        for stat in stats:
            assert ours[f"{key}.{stat}"] == pytest.approx(data[stat]), f"{key}.{stat}"
    assert set(counters) == {"c", "rated", "multi"} and set(gauges) == {"g", "down"}
    assert theirs["sets"] == {"s": 2}
    assert set(theirs["timers"]) == {"t", "rt", "multi", "lat"}
