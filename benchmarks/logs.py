"""Log records benchmark: what the logs view costs on the write path, and how fast it answers.

    .venv/bin/python benchmarks/logs.py                  # 100,000 records (about a minute)
    .venv/bin/python benchmarks/logs.py --records 20000  # quicker

Prints, each beside its baseline measured in the same run:

* ``log.record`` events stored per second (decode, log append and the views, in transactions
  of 1,000 on a SQLite file), against the same events under a kind no view folds (the log
  append alone), their batches alternating so both see the same machine load;
* the time of one page of ``/api/v1/logs`` queries (newest, by agent, by job, errors only, a
  text search) on the full table, against reading the newest page of the event log;
* a retention pass deleting half the records, in records per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from watchkeeper.events.decode import decode_events
from watchkeeper.store import db, eventlog
from watchkeeper.store.writer import commit_batches
from watchkeeper.views import ALL_VIEWS, logs

BATCH = 1000
T0 = 1_764_000_000.0


def record(i: int, kind: str) -> dict[str, Any]:
    agent = f"1.{i % 50}"
    level = 8 if i % 100 == 0 else (2 if i % 10 == 0 else 1)
    return {
        "kind": kind, "ts": T0 + i / 100, "level": "error" if level == 8 else "info",
        "agent": agent, "job": f"{agent}/site/web/{i // 5000}", "domain": "site", "name": "web",
        "epoch": T0 + i / 100, "id": i, "log_level": level,
        "data": f"GET /api/items/{i} 200 {i % 997} ms" + (" timeout" if level == 8 else ""),
        "event_id": f"{kind}:{i}",
    }  # fmt: skip


def store(engines: dict[str, Any], count: int) -> dict[str, float]:
    """Records per second for each kind, batches alternating between the two files."""
    spent = dict.fromkeys(engines, 0.0)
    for start in range(0, count, BATCH):
        for kind, engine in engines.items():
            body = orjson.dumps([record(i, kind) for i in range(start, start + BATCH)])
            begin = time.perf_counter()
            batch = decode_events(body, "application/json")
            results, _ = commit_batches(engine, ALL_VIEWS, [batch])
            spent[kind] += time.perf_counter() - begin
            assert not any(isinstance(r, Exception) for r in results)
    return {kind: count / seconds for kind, seconds in spent.items()}


def timed(fn: Any, runs: int = 20) -> float:
    """Median milliseconds of ``fn()``."""
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    count = args.records - args.records % BATCH
    with tempfile.TemporaryDirectory() as tmp:
        engines = {}
        for kind in ("log.record", "log.unfolded"):
            engine = db.make_engine(f"sqlite:///{Path(tmp) / kind}.db", writer=True)
            db.upgrade(engine)
            engines[kind] = engine
        rates = store(engines, count)
        folded, unfolded = rates["log.record"], rates["log.unfolded"]
        print(f"stored, {count} records in batches of {BATCH} (SQLite, synchronous=FULL)")
        print(f"  log.record (log + logs view)  {folded:10,.0f} /s")
        print(f"  unfolded kind (log only)      {unfolded:10,.0f} /s")
        print(f"  ratio                         {folded / unfolded:10.2f}")

        engine = engines["log.record"]
        with engine.connect() as conn:
            baseline = timed(lambda: eventlog.read(conn, since_seq=count - 100, limit=100))
            queries = {
                "newest 100": logs.LogFilter(),
                "agent=1.7": logs.LogFilter(agent="1.7"),
                "job=1.7/site/web/3": logs.LogFilter(job="1.7/site/web/3"),
                "level=error": logs.LogFilter(severity="error"),
                "q=timeout": logs.LogFilter(search="timeout"),
                "q=nowhere (full scan)": logs.LogFilter(search="nowhere"),
            }
            print(f"one page of 100 on {count} records (median time)")
            print(f"  event log, newest 100 (baseline) {baseline:8.2f} ms")
            for label, f in queries.items():
                ms = timed(lambda f=f: logs.list_logs(conn, f, limit=100), runs=5)
                print(f"  {label:32} {ms:8.2f} ms  ({ms / baseline:.1f}x)")

        begin = time.perf_counter()
        deleted = 0
        while True:
            with engine.begin() as conn:
                gone = logs.prune(conn, {"info": 0.0}, T0 + count / 200, 5000)
            deleted += gone
            if gone < 5000:
                break
        seconds = time.perf_counter() - begin
        print(f"retention: {deleted} records deleted in {seconds:.2f} s "
              f"({deleted / seconds:,.0f} /s, transactions of 5,000)")  # fmt: skip
        for engine in engines.values():
            engine.dispose()


if __name__ == "__main__":
    main()
