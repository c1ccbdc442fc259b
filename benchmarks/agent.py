"""``watchkeeper agent`` against supervisord, side by side in one run.

The same programs (50 by default, 20,000 lines/s in total) run under supervisord (installed
into a virtual environment of its own, from the package index, on the first run) copying
their output to files, and under ``watchkeeper agent``, which parses every line, stores it
in its SQLite log store and forwards it to a local ``watchkeeper serve``. Printed: each
supervisor's CPU (% of one core, the supervisor process alone) and peak RSS, and the lines
captured against the lines written.

    .venv/bin/python benchmarks/agent.py [--programs 50] [--rate 20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import time

import psutil
from benchmarks import harness

WRITER = """\
import sys, time
per_tick, ticks = int(sys.argv[1]), int(sys.argv[2])
start = time.monotonic()
for tick in range(ticks):
    for i in range(per_tick):
        sys.stdout.write(f"{tick * per_tick + i} 2026-05-01 10:00:00 INFO handled a request\\n")
    sys.stdout.flush()
    delay = start + (tick + 1) * 0.01 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
time.sleep(3600)
"""


def supervisor_env(base: pathlib.Path) -> pathlib.Path:
    venv = base / "supervisor-venv"
    if not (venv / "bin" / "supervisord").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "supervisor"], check=True)
    return venv / "bin" / "supervisord"


def measure(pid: int, seconds: float, done) -> tuple[float, int]:
    """CPU % of one core and peak RSS of ``pid`` from now until ``done()`` (or ``seconds``)."""
    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    start = time.monotonic()
    peak = 0
    while time.monotonic() - start < seconds and not done():
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.2)
    cpu = sum(proc.cpu_times()[:2]) - before
    return 100 * cpu / (time.monotonic() - start), peak


def run_supervisord(work: pathlib.Path, writer: pathlib.Path, args, total: int) -> tuple:
    supervisord = supervisor_env(pathlib.Path(tempfile.gettempdir()) / "wk-bench")
    logs = work / "sv-logs"
    logs.mkdir()
    conf = [
        "[supervisord]",
        f"logfile={work / 'supervisord.log'}",
        f"pidfile={work / 'supervisord.pid'}",
        "nodaemon=true",
    ]
    for n in range(args.programs):
        conf += [
            f"[program:w{n}]",
            f"command={sys.executable} {writer} {args.per_tick} {args.ticks}",
            "autorestart=false",
            "startsecs=0",
            f"stdout_logfile={logs / f'w{n}.log'}",
            "stdout_logfile_maxbytes=0",
        ]
    (work / "supervisord.conf").write_text("\n".join(conf) + "\n")
    proc = subprocess.Popen([str(supervisord), "-c", str(work / "supervisord.conf")])

    def captured() -> int:
        count = 0
        for path in logs.glob("*.log"):
            with path.open("rb") as fh:
                count += sum(1 for _ in fh)
        return count

    try:
        time.sleep(0.5)
        cpu, rss = measure(proc.pid, args.seconds + 5, lambda: captured() >= total)
        return cpu, rss, captured()
    finally:
        proc.terminate()
        proc.wait(30)


def run_agent(work: pathlib.Path, writer: pathlib.Path, args, total: int) -> tuple:
    lines = ["[agent]", "gid = 1", "nid = 1"]
    for n in range(args.programs):
        lines += [
            f"[programs.w{n}]",
            f"command = '{sys.executable} {writer} {args.per_tick} {args.ticks}'",
        ]
    (work / "agent.toml").write_text("\n".join(lines) + "\n")
    data = work / "agent-data"
    with harness.watchkeeper(work / "wk.db") as port:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", "agent", "--config", str(work / "agent.toml"),
             "--server", f"http://127.0.0.1:{port}", "--data-dir", str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def count(path: pathlib.Path, sql: str) -> int:
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
                    return int(conn.execute(sql).fetchone()[0])
            except sqlite3.Error:
                return 0

        def captured() -> int:
            return count(data / "logs" / "current.db", "select count(*) from logs")

        try:
            time.sleep(0.5)
            cpu, rss = measure(proc.pid, args.seconds + 5, lambda: captured() >= total)
            time.sleep(args.seconds / 2)  # let the forwarder catch up before counting
            forwarded = count(work / "wk.db", "select count(*) from events where kind='log.record'")
            return cpu, rss, captured(), forwarded
        finally:
            proc.terminate()
            proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--programs", type=int, default=50)
    parser.add_argument("--rate", type=int, default=20_000, help="lines/s of all programs")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    args.per_tick = max(1, args.rate // args.programs // 100)  # 100 ticks a second
    args.ticks = args.seconds * 100
    total = args.programs * args.per_tick * args.ticks
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        writer = work / "writer.py"
        writer.write_text(WRITER)
        os.makedirs(work / "sv", exist_ok=True)
        os.makedirs(work / "wk", exist_ok=True)
        sv = run_supervisord(work / "sv", writer, args, total)
        wk = run_agent(work / "wk", writer, args, total)
    mib = 2**20
    rows = [
        ("supervisor", "CPU % of a core", "peak RSS MiB", "captured / written", "forwarded"),
        ("supervisord (baseline)", f"{sv[0]:.1f}", f"{sv[1] / mib:.0f}", f"{sv[2]}/{total}", ""),
        ("watchkeeper agent", f"{wk[0]:.1f}", f"{wk[1] / mib:.0f}", f"{wk[2]}/{total}", str(wk[3])),
    ]
    print(f"{args.programs} programs, {args.rate} lines/s in total, {args.seconds} s")
    print(harness.table(rows))
    print(f"agent CPU: {wk[0] / max(sv[0], 0.01):.1f}x supervisord's")


if __name__ == "__main__":
    main()
