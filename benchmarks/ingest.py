"""Ingest throughput of ``watchkeeper serve`` on SQLite, against baselines run beside it.

Scenarios (each on a fresh database, the server in its own process, driven from this one):
- NDJSON batches of 100 and of 1,000 seed-000 task events, over 4 keep-alive connections;
- single-event requests over 64 concurrent keep-alive connections.
Baselines measured in the same run:
- raw: stdlib sqlite3 ``executemany`` of the same rows into the same tables (events, task
  history, tasks), 1,000 events per transaction, WAL and synchronous=FULL like the server;
- bare: a Starlette endpoint that only parses the body, under the same uvicorn.

Usage: python benchmarks/ingest.py [--events N] [--single N]
"""

from __future__ import annotations

import argparse
import pathlib
import sqlite3
import sys
import tempfile
import time

import orjson

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402
import loadgen  # noqa: E402

from watchkeeper.events.decode import decode_events  # noqa: E402
from watchkeeper.store import db  # noqa: E402


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


def raw_baseline(workdir: pathlib.Path, total: int, size: int = 1000) -> float:
    """stdlib sqlite3 executemany of the rows watchkeeper writes, without HTTP or views logic."""
    path = workdir / "raw.db"
    db.upgrade(db.make_engine(f"sqlite:///{path}", writer=True))
    events = decode_events(
        b"\n".join(orjson.dumps(e) for e in harness.task_events(0, total)),
        "application/x-ndjson",
        max_items=total,
    )
    ev_rows, hist_rows, task_rows = [], [], {}
    for seq, e in enumerate(events, start=1):
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
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120_000, help="events per batch scenario")
    parser.add_argument("--single", type=int, default=20_000, help="single-event requests")
    args = parser.parse_args()
    rows = [("scenario", "events/s", "ratio", "against")]
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        raw = raw_baseline(work, args.events)
        rows.append(("raw sqlite3 executemany (baseline)", f"{raw:,.0f}", "1.00", "-"))
        for size in (1000, 100):
            requests = ndjson_requests(args.events, size)
            with harness.bare_endpoint() as port:
                bare = loadgen.run(port, requests, 4)
            with harness.watchkeeper(work / f"batch{size}.db") as port:
                result = loadgen.run(port, requests, 4)
            assert result.statuses == {202: len(requests)}, result.statuses
            rate = args.events / result.seconds
            rows.append((f"watchkeeper NDJSON x{size}", f"{rate:,.0f}", f"{rate / raw:.2f}", "raw"))
            rows.append(
                (f"bare endpoint NDJSON x{size}", f"{args.events / bare.seconds:,.0f}", "", "")
            )
        requests = single_requests(args.single)
        with harness.bare_endpoint() as port:
            bare = loadgen.run(port, requests, 64)
        with harness.watchkeeper(work / "single.db") as port:
            result = loadgen.run(port, requests, 64)
        assert result.statuses == {202: len(requests)}, result.statuses
        rows.append(("bare endpoint, single events, 64 conns", f"{bare.rate:,.0f}", "1.00", "-"))
        rows.append(
            (
                "watchkeeper, single events, 64 conns",
                f"{result.rate:,.0f}",
                f"{result.rate / bare.rate:.2f}",
                "bare",
            )
        )
    print(harness.table(rows))


if __name__ == "__main__":
    main()
