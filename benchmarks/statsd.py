"""statsd over UDP: watchkeeper's input against the reference statsd daemon, side by side.

The same bounded blast of counter lines goes, in turn, to ``watchkeeper serve --statsd-port``
and to the reference daemon (the npm package ``statsd``, installed with npm into a cache
directory on the first run), each on a loopback port of its own: single-line datagrams sent as
fast as the sender can, then 20-line datagrams paced at 100,000 lines/s. Printed: lines sent,
lines each received (watchkeeper's input counters; the daemon's ``counters`` on its management
port), the share received, and watchkeeper's share as a ratio of the daemon's.

    .venv/bin/python -m benchmarks.statsd [--single 200000] [--paced-seconds 3]

Without npm the reference column is skipped: install Node.js and npm, or point
``WATCHKEEPER_BENCH_STATSD`` at a directory holding ``node_modules/statsd``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from benchmarks import harness

LINE = b"bench.hits:1|c"
CACHE = pathlib.Path(
    os.environ.get("WATCHKEEPER_BENCH_STATSD", pathlib.Path.home() / ".cache/watchkeeper-bench")
)


def blast(port: int, per_datagram: int, lines: int, rate: float | None) -> float:
    """Send ``lines`` counter lines in datagrams of ``per_datagram`` lines, at ``rate`` lines/s
    (unpaced when None); the seconds it took."""
    payload = b"\n".join([LINE] * per_datagram)
    datagrams = lines // per_datagram
    target = ("127.0.0.1", port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.perf_counter()
    if rate is None:
        for _ in range(datagrams):
            sock.sendto(payload, target)
    else:
        per_tick = max(1, round(rate / per_datagram / 1000))  # datagrams per millisecond
        sent = 0
        while sent < datagrams:
            for _ in range(min(per_tick, datagrams - sent)):
                sock.sendto(payload, target)
            sent += per_tick
            delay = start + sent * per_datagram / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    sock.close()
    return time.perf_counter() - start


def settle(count, timeout: float = 20.0) -> int:
    """``count()`` once it stops growing (the receiver has drained its socket)."""
    last, deadline = -1, time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = count()
        if now == last:
            return now
        last = now
        time.sleep(0.5)
    return last


@contextmanager
def watchkeeper_input(tmp: pathlib.Path) -> Iterator[tuple[int, object]]:
    udp = harness.free_port()
    args = ("--statsd-port", str(udp), "--statsd-flush-interval", "3600")
    with harness.watchkeeper(tmp / "wk.db", *args) as port:

        def lines() -> int:
            status = httpx.get(f"http://127.0.0.1:{port}/api/v1/metrics/statsd").json()
            return int(status["lines"])

        yield udp, lines


def reference_dir() -> pathlib.Path | None:
    found = CACHE / "node_modules" / "statsd" / "stats.js"
    if found.exists():
        return found.parent
    if shutil.which("npm") is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"installing the reference statsd daemon with npm into {CACHE} ...", file=sys.stderr)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), "statsd"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return found.parent


@contextmanager
def reference_daemon(tmp: pathlib.Path, home: pathlib.Path) -> Iterator[tuple[int, object]]:
    udp, mgmt = harness.free_port(), harness.free_port()
    config = tmp / "statsd.json"
    config.write_text(
        json.dumps(
            {
                "address": "127.0.0.1",
                "port": udp,
                "mgmt_address": "127.0.0.1",
                "mgmt_port": mgmt,
                "flushInterval": 3_600_000,
                "backends": ["./backends/console"],
            }
        )
    )
    proc = subprocess.Popen(
        ["node", "stats.js", str(config)],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def lines() -> int:
        with socket.create_connection(("127.0.0.1", mgmt), timeout=5) as conn:
            conn.sendall(b"counters\n")
            text = b""
            while b"END" not in text:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                text += chunk
        match = re.search(rb"'bench\.hits': (\d+)", text)
        return int(match.group(1)) if match else 0

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                lines()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the reference statsd daemon did not start") from None
                time.sleep(0.2)
        yield udp, lines
    finally:
        proc.terminate()
        proc.wait(10)


def run(receiver, per_datagram: int, lines: int, rate: float | None) -> tuple[int, float]:
    with receiver as (udp, count):
        seconds = blast(udp, per_datagram, lines, rate)
        return settle(count), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=200_000, help="single-line datagrams")
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    args = parser.parse_args()
    home = reference_dir()
    if home is None:
        print("npm not found: the reference column is skipped (see the module's docstring)")
    scenarios = [
        ("1-line datagrams, unpaced", 1, args.single, None),
        ("20-line datagrams, 100k lines/s", 20, int(100_000 * args.paced_seconds), 100_000.0),
    ]
    rows = [("blast", "sent", "receiver", "received", "share", "send lines/s", "vs statsd")]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = pathlib.Path(tmp_dir)
        for title, per_datagram, lines, rate in scenarios:
            ours, seconds = run(watchkeeper_input(tmp), per_datagram, lines, rate)
            rows.append(
                (
                    title,
                    str(lines),
                    "watchkeeper",
                    str(ours),
                    f"{ours / lines:.1%}",
                    f"{lines / seconds:,.0f}",
                    "",
                )
            )
            if home is not None:
                theirs, seconds = run(reference_daemon(tmp, home), per_datagram, lines, rate)
                ratio = f"{(ours / lines) / (theirs / lines):.2f}x" if theirs else "-"
                rows.append(
                    (
                        "",
                        str(lines),
                        "statsd (npm)",
                        str(theirs),
                        f"{theirs / lines:.1%}",
                        f"{lines / seconds:,.0f}",
                        ratio,
                    )
                )
            (tmp / "wk.db").unlink(missing_ok=True)
    print(harness.table(rows))


if __name__ == "__main__":
    main()
