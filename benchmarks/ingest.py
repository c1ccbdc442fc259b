"""Ingest throughput of ``watchkeeper serve`` on SQLite, against baselines run beside it.

Scenarios (each on a fresh database, the server in its own process, driven from this one):
- NDJSON batches of 100 and of 1,000 seed-000 task events, over 4 keep-alive connections;
- single-event requests over 64 concurrent keep-alive connections.
Baselines measured in the same run:
- raw: the statements and rows watchkeeper's store sends SQLite for these events (log,
  history, tasks, components), recorded once and replayed with stdlib sqlite3 ``executemany``,
  1,000 events per transaction, WAL, synchronous=FULL and the server's cache size; also the
  earlier, smaller hand-built variant (log, history and tasks only), for reference;
- bare: a Starlette endpoint that only parses the body, under the same uvicorn.

Each scenario runs ``--rounds`` times, alternating the baseline and watchkeeper, on a fresh
database each time; the table gives medians, the range over the rounds, and the CPU time the
watchkeeper server (with its writer process) spent per event.

Usage: python benchmarks/ingest.py [--events N] [--single N] [--rounds N]
"""

from __future__ import annotations

import argparse
import pathlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import orjson
import psutil

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402
import loadgen  # noqa: E402

from watchkeeper.events.decode import decode_events  # noqa: E402
from watchkeeper.store import bulk, db  # noqa: E402
from watchkeeper.store.writer import store_events  # noqa: E402
from watchkeeper.views import ALL_VIEWS  # noqa: E402


def ndjson_requests(total: int, size: int, offset: int = 0) -> list[bytes]:
    out = []
    for start in range(offset, offset + total, size):
        body = b"\n".join(orjson.dumps(e) for e in harness.task_events(start, size))
        out.append(loadgen.encode_post("/api/v1/events", body, "application/x-ndjson"))
    return out


def single_requests(total: int, offset: int = 0) -> list[bytes]:
    return [
        loadgen.encode_post("/api/v1/events", orjson.dumps(e))
        for e in harness.task_events(offset, total)
    ]


def benchmark_events(total: int) -> list:
    return decode_events(
        b"\n".join(orjson.dumps(e) for e in harness.task_events(0, total)),
        "application/x-ndjson",
        max_items=total,
    )


def recorded_statements(workdir: pathlib.Path, total: int, size: int) -> list[list[tuple]]:
    """Every statement and row watchkeeper's store sends SQLite for the benchmark's events, one
    list per transaction of ``size`` events, recorded while storing them in a scratch database."""
    engine = db.make_engine(f"sqlite:///{workdir / 'record.db'}", writer=True, synchronous="OFF")
    db.upgrade(engine)
    events = benchmark_events(total)
    original = bulk.executemany
    transactions: list[list[tuple]] = []

    def record(conn, sql, rows):  # noqa: ANN001, ANN202
        rows = list(rows)
        transactions[-1].append((sql, rows))
        original(conn, sql, rows)

    bulk.executemany = record
    try:
        for i in range(0, total, size):
            transactions.append([])
            with engine.begin() as conn:
                store_events(conn, ALL_VIEWS, [events[i : i + size]])
    finally:
        bulk.executemany = original
        engine.dispose()
    return transactions


def sqlite_like_the_server(path: pathlib.Path) -> sqlite3.Connection:
    db.upgrade(db.make_engine(f"sqlite:///{path}", writer=True))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


def raw_baseline(workdir: pathlib.Path, total: int, size: int = 1000) -> float:
    """The raw baseline: watchkeeper's own statements and rows, replayed with stdlib sqlite3
    ``executemany``, ``size`` events per transaction — what SQLite alone takes to store what
    watchkeeper stores (log, history, tasks, components), without HTTP, JSON or Python logic."""
    workdir.mkdir()
    transactions = recorded_statements(workdir, total, size)
    conn = sqlite_like_the_server(workdir / "raw.db")
    start = time.perf_counter()
    for statements in transactions:
        conn.execute("BEGIN IMMEDIATE")
        for sql, rows in statements:
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return total / elapsed


def minimal_baseline(workdir: pathlib.Path, total: int, size: int = 1000) -> float:
    """The earlier, smaller raw baseline: hand-built rows for the log, the history and the tasks
    only (``INSERT OR REPLACE`` instead of watchkeeper's upserts, no components)."""
    workdir.mkdir()
    ev_rows, hist_rows, task_rows = [], [], {}
    for seq, e in enumerate(benchmark_events(total), start=1):
        a = e.attrs
        ev_rows.append(
            (
                seq,
                None,
                e.kind,
                e.ts,
                e.received_at,
                e.level,
                e.source,
                e.subject,
                orjson.dumps(a).decode(),
                orjson.dumps(e.body).decode(),
            )
        )
        hist_rows.append((seq, a["task"], a["status"], e.ts, e.level, a["agent"], a["producer"]))
        task_rows[a["task"]] = (
            a["task"],
            a["status"],
            e.level,
            a["producer"],
            a["agent"],
            e.ts,
            e.ts,
            seq,
            1,
        )
    conn = sqlite_like_the_server(workdir / "minimal.db")
    tasks = list(task_rows.values())
    start = time.perf_counter()
    for i in range(0, total, size):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", ev_rows[i : i + size])
        conn.executemany("INSERT INTO task_history VALUES (?,?,?,?,?,?,?)", hist_rows[i : i + size])
        conn.executemany(
            "INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?)",
            tasks[i // 3 : (i + size) // 3],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return total / elapsed


@dataclass
class Runs:
    """Rates of one side of a scenario over the rounds, and the server CPU it took."""

    rates: list[float] = field(default_factory=list)
    cpu_per_event: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def spread(self) -> str:
        return f"{min(self.rates):,.0f}–{max(self.rates):,.0f}"


def measure(
    server: Callable[[], AbstractContextManager[int]],
    requests: list[bytes],
    connections: int,
    events: int,
    runs: Runs,
) -> None:
    """One run: a fresh server, every request sent, every answer 202."""
    with server() as port:
        server = psutil.Process(harness.server_pid(port))
        processes = [server, *server.children(recursive=True)]  # the writer process too
        before = sum(sum(p.cpu_times()[:2]) for p in processes)
        result = loadgen.run(port, requests, connections)
        cpu = sum(sum(p.cpu_times()[:2]) for p in processes) - before
    assert result.statuses == {202: len(requests)}, result.statuses
    runs.rates.append(events / result.seconds)
    runs.cpu_per_event.append(cpu / events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120_000, help="events per batch scenario")
    parser.add_argument("--single", type=int, default=20_000, help="single-event requests")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per scenario")
    args = parser.parse_args()
    rows = [("scenario", "events/s (median)", "runs", "ratio", "server CPU/event")]
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        raw, minimal = Runs(), Runs()
        for n in range(args.rounds):
            raw.rates.append(raw_baseline(work / f"raw{n}", args.events))
            minimal.rates.append(minimal_baseline(work / f"minimal{n}", args.events))
        rows.append(
            ("raw: watchkeeper's statements", f"{raw.median:,.0f}", raw.spread(), "1.00", "")
        )
        rows.append(
            ("raw: log+history+tasks only", f"{minimal.median:,.0f}", minimal.spread(), "", "")
        )
        scenarios = [
            (f"NDJSON x{size}", ndjson_requests(args.events, size), 4, args.events)
            for size in (1000, 100)
        ]
        scenarios.append(("single events, 64 conns", single_requests(args.single), 64, args.single))
        for name, requests, connections, events in scenarios:
            bare, ours = Runs(), Runs()
            # Alternate the two sides so that whatever else the machine does disturbs both alike.
            for n in range(args.rounds):
                measure(harness.bare_endpoint, requests, connections, events, bare)
                db_path = work / f"{name.split()[0]}-{connections}-{n}.db"
                measure(
                    lambda p=db_path: harness.watchkeeper(p), requests, connections, events, ours
                )
            against, base = ("bare", bare) if connections == 64 else ("raw", raw)
            rows.append((f"bare endpoint, {name}", f"{bare.median:,.0f}", bare.spread(), "", ""))
            rows.append(
                (
                    f"watchkeeper, {name}",
                    f"{ours.median:,.0f}",
                    ours.spread(),
                    f"{ours.median / base.median:.2f} of {against}",
                    f"{statistics.median(ours.cpu_per_event) * 1e6:.0f} us",
                )
            )
    print(harness.table(rows))


if __name__ == "__main__":
    main()
