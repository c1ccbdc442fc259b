"""Live state benchmark: merge rate in process, ingest rate over HTTP, memory of a big state.

    .venv/bin/python benchmarks/state.py                # full run (a few minutes)
    .venv/bin/python benchmarks/state.py --keys 100000  # smaller state for the memory part

Prints, each beside the baseline measured in the same run:

* shards merged per second in process by the state model (``statedoc.Doc``), against a plain
  recursive dict merge (what the original monitor did, without counters or expiry), and by the
  durable view (log + view in one SQLite transaction per 1000 shards);
* shards per second through ``POST /api/v1/state`` in NDJSON batches of 1000, against events
  per second through ``POST /api/v1/events`` (seed-000 agent pings), each on its own server
  subprocess and SQLite file, their batches alternating so both see the same machine load;
* memory of a state of ``--keys`` keys in the model, against the same document as plain dicts,
  each measured in a fresh process; the size of the same state in SQLite, and the time to
  render it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

BATCH = 1000


def small_shard(i: int) -> dict[str, Any]:
    """A typical shard: one host's counter and latest value."""
    host = f"blade_host_{i % 50}"
    return {"source": host, host: {"items": {"$inc": 1}, "last": i, "msg": "ok"}}


def ping(i: int) -> dict[str, Any]:
    return {"id_agent": i % 50, "state": "idle", "datetime": "2024-05-01 10:00:00.000"}


def best_rate(runs: int, count: int, body: Callable[[], None]) -> float:
    best = 0.0
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        body()
        best = max(best, count / (time.perf_counter() - start))
    return best


# --- in process ------------------------------------------------------------------------------


def plain_merge(dst: dict, src: dict) -> None:
    for key, value in src.items():
        if value is None:
            dst.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(dst.get(key), dict):
                dst[key] = {}
            plain_merge(dst[key], value)
        else:
            dst[key] = value


def in_process(count: int) -> dict[str, float]:
    from watchkeeper.events.statedoc import Doc

    shards = []
    for i in range(count):
        shard = small_shard(i)
        shards.append((shard.pop("source"), shard))

    def model() -> None:
        doc = Doc()
        for stamp, (source, shard) in enumerate(shards, start=1):
            doc.apply(shard, stamp=stamp, source=source, ts=0.0)

    def baseline() -> None:
        state: dict = {}
        for _, shard in shards:
            plain_merge(state, shard)

    return {
        "model_shards_per_s": best_rate(3, count, model),
        "plain_dict_merge_per_s": best_rate(3, count, baseline),
    }


def view_in_process(count: int, directory: Path) -> float:
    """Shards per second through ``store_events`` (log + every view), 1000 per transaction."""
    from watchkeeper.events.state import decode_shards
    from watchkeeper.store import db
    from watchkeeper.store.writer import store_events
    from watchkeeper.views import ALL_VIEWS

    engine = db.make_engine(f"sqlite:///{directory / 'inproc.db'}", writer=True)
    db.upgrade(engine)
    bodies = [
        b"\n".join(orjson.dumps(small_shard(i)) for i in range(start, start + BATCH))
        for start in range(0, count, BATCH)
    ]
    start = time.perf_counter()
    for body in bodies:
        events = decode_shards(body, "application/x-ndjson")
        with engine.begin() as conn:
            store_events(conn, ALL_VIEWS, [events])
    rate = count / (time.perf_counter() - start)
    engine.dispose()
    return rate


# --- over HTTP -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(db_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "serve", "--db", f"sqlite:///{db_path}",
         "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the server did not start")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def http_rates(directory: Path, count: int) -> tuple[float, float]:
    """Events/s through ``/api/v1/events`` and shards/s through ``/api/v1/state``.

    Each route has its own server and SQLite file; the batches alternate between them, so both
    see the same load on a shared machine."""
    routes = {"/api/v1/events": ping, "/api/v1/state": small_shard}
    bodies = {
        route: [
            b"\n".join(orjson.dumps(make(i)) for i in range(start, start + BATCH))
            for start in range(0, count, BATCH)
        ]
        for route, make in routes.items()
    }
    headers = {"Content-Type": "application/x-ndjson"}
    spent = dict.fromkeys(routes, 0.0)
    with (
        server(directory / "events.db") as events_url,
        server(directory / "state.db") as state_url,
        httpx.Client(timeout=120) as http,
    ):
        urls = {"/api/v1/events": events_url, "/api/v1/state": state_url}
        for route in routes:  # warm up
            http.post(
                urls[route] + route, content=bodies[route][0], headers=headers
            ).raise_for_status()
        for i in range(len(bodies["/api/v1/state"])):
            for route in routes:
                start = time.perf_counter()
                answer = http.post(urls[route] + route, content=bodies[route][i], headers=headers)
                spent[route] += time.perf_counter() - start
                answer.raise_for_status()
    return count / spent["/api/v1/events"], count / spent["/api/v1/state"]


# --- memory ----------------------------------------------------------------------------------

KEYS_PER_SHARD = 100


def big_shards(keys: int) -> Iterator[dict[str, Any]]:
    """``keys`` leaf keys: hosts of 100 keys each, half numbers, half short texts."""
    for host in range(keys // KEYS_PER_SHARD):
        yield {f"host_{host}": {f"k{i}": (i if i % 2 else f"v{i}") for i in range(KEYS_PER_SHARD)}}


def memory_child(kind: str, keys: int) -> None:
    """Run in a fresh process: the Python heap a state of ``keys`` keys holds (keys and values
    included, shards built and dropped one by one while tracing), as JSON on stdout."""
    import tracemalloc

    from watchkeeper.events.statedoc import Doc

    gc.collect()
    tracemalloc.start()
    if kind == "model":
        doc = Doc()
        for stamp, shard in enumerate(big_shards(keys), start=1):
            doc.apply(shard, stamp=stamp, source="bench", ts=0.0)
        kept: Any = doc
    else:
        state: dict = {}
        for shard in big_shards(keys):
            plain_merge(state, shard)
        kept = state
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    print(json.dumps({"bytes": held, "kept": kept is not None}))


def memory(kind: str, keys: int) -> int:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-child", kind, "--keys", str(keys)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)["bytes"]


def database(keys: int, directory: Path) -> dict[str, float]:
    """The state of ``keys`` keys in SQLite: file size (log included), state tables, render."""
    from watchkeeper.events import Event
    from watchkeeper.store import db
    from watchkeeper.store.writer import store_events
    from watchkeeper.views import ALL_VIEWS
    from watchkeeper.views import state as view

    path = directory / "big.db"
    engine = db.make_engine(f"sqlite:///{path}", writer=True, synchronous="OFF")
    db.upgrade(engine)
    start = time.perf_counter()
    batch: list[Event] = []
    for shard in big_shards(keys):
        attrs = {"shard": shard, "ttl": None}
        batch.append(Event("state.shard", 0.0, "info", "bench", None, attrs, shard))
        if len(batch) == 100:
            with engine.begin() as conn:
                store_events(conn, ALL_VIEWS, [batch])
            batch = []
    if batch:
        with engine.begin() as conn:
            store_events(conn, ALL_VIEWS, [batch])
    load_s = time.perf_counter() - start
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            state_bytes = raw.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%state_%'"
            ).fetchone()[0]
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            state_bytes = None
    reader = db.make_engine(f"sqlite:///{path}")
    with reader.connect() as conn:
        start = time.perf_counter()
        rendered = view.render(conn, now=time.time())
        render_s = time.perf_counter() - start
    reader.dispose()
    assert sum(len(v) for v in rendered.document.values()) == keys
    return {
        "db_file_bytes": os.path.getsize(path),
        "state_table_bytes": state_bytes or 0,
        "load_s": load_s,
        "render_s": render_s,
    }


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=200_000, help="shards merged in process")
    parser.add_argument("--http", type=int, default=50_000, help="shards/events sent over HTTP")
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys of the big state")
    parser.add_argument("--memory-child", choices=["model", "dict"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.keys)
        return

    with tempfile.TemporaryDirectory(prefix="wk-bench-state-") as tmp:
        directory = Path(tmp)
        merged = in_process(args.shards)
        model, plain = merged["model_shards_per_s"], merged["plain_dict_merge_per_s"]
        print(f"in process, state model:        {model:>12,.0f} shards/s  (target 100,000)")
        print(f"in process, plain dict merge:   {plain:>12,.0f} shards/s  "
              f"(model/plain {model / plain:.2f})")  # fmt: skip
        view = view_in_process(args.http, directory)
        print(f"in process, log + views SQLite: {view:>12,.0f} shards/s")

        events, state = http_rates(directory, args.http)
        print(f"HTTP /api/v1/events (NDJSON):   {events:>12,.0f} events/s")
        print(f"HTTP /api/v1/state (NDJSON):    {state:>12,.0f} shards/s  "
              f"(state/events {state / events:.2f}, target 0.50)")  # fmt: skip

        keys = args.keys
        as_model, as_dict = memory("model", keys), memory("dict", keys)
        print(f"memory, {keys:,} keys, model:   {as_model / 2**20:>9,.0f} MiB  "
              f"({as_model / keys:.0f} B/key)")  # fmt: skip
        print(f"memory, {keys:,} keys, dicts:   {as_dict / 2**20:>9,.0f} MiB  "
              f"({as_dict / keys:.0f} B/key, model/dicts {as_model / as_dict:.2f})")  # fmt: skip
        stored = database(keys, directory)
        print(f"SQLite, {keys:,} keys: file {stored['db_file_bytes'] / 2**20:,.0f} MiB "
              f"(state tables {stored['state_table_bytes'] / 2**20:,.0f} MiB, the rest is the "
              f"log), loaded in {stored['load_s']:.1f} s, rendered in "
              f"{stored['render_s']:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
