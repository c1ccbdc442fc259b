"""Live-stream fan-out of ``watchkeeper serve``: many SSE clients under a steady ingest rate.

Each round starts a fresh server (SQLite, its writer process) and, for ``--seconds``, posts
``--rate`` events a second (batches of ``--batch``, each event carrying the time it was sent)
from a process of its own, while another process asks ``/healthz`` every 20 ms over one
keep-alive connection and times each answer. Rounds alternate between:
- baseline: the same ingest with no stream clients;
- clients: ``--clients`` connections following ``/api/v1/events/stream``, read in this process;
- (with ``--before SRC``) the same clients against the server code found in ``SRC``, e.g. a
  checkout of an earlier commit, for a before/after comparison in the same run.

Reported per scenario (medians over the rounds): ``/healthz`` p50/p99, delivery lag p50/p99
(receipt by a client minus the event's send time, measured on the first event of every chunk
a client reads, so it is the oldest event of that chunk), events delivered per client as a
share of those sent, clients the server dropped for falling behind, and the server's peak
RSS (with its writer process). The ratio column is ``/healthz`` p99 against the baseline.

Usage: python benchmarks/sse.py [--clients N] [--rate N] [--seconds S] [--rounds N]
                                [--before SRC]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import pathlib
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import orjson
import psutil

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402


def produce(port: int, rate: int, batch: int, seconds: float, out: multiprocessing.Queue) -> None:
    """Post ``rate`` events a second for ``seconds``; put the number sent."""
    sent = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        start = time.monotonic()
        while (due := start + sent / rate) < start + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            now = time.time()
            body = [{"kind": "bench", "sent": now, "n": sent + i} for i in range(batch)]
            r = http.post("/api/v1/events", json=body)
            assert r.status_code == 202, r.text
            sent += batch
    out.put(sent)


def probe(port: int, seconds: float, out: multiprocessing.Queue) -> None:
    """Time ``GET /healthz`` every 20 ms for ``seconds``; put the latencies (seconds)."""
    latencies = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.02)
    out.put(latencies)


@dataclass
class Client:
    events: int = 0
    lags: list[float] = field(default_factory=list)
    ended: bool = False


async def follow(port: int, client: Client, stop: asyncio.Event) -> None:
    """Read the stream, count the events, note the lag of the first event of every chunk."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v1/events/stream HTTP/1.1\r\nHost: bench\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    try:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 16), 0.5)
            except TimeoutError:
                continue
            if not chunk:
                client.ended = True
                return
            now = time.time()
            client.events += chunk.count(b"data: ")
            start = chunk.find(b"data: ")
            end = chunk.find(b"\n", start)
            if start >= 0 and end > 0:
                try:
                    event = orjson.loads(chunk[start + 6 : end])
                except orjson.JSONDecodeError:
                    continue  # a frame split across reads: the next chunk is measured
                client.lags.append(now - event["body"]["sent"])
    finally:
        writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Round:
    health_p50: float
    health_p99: float
    lag_p50: float
    lag_p99: float
    delivered: float
    dropped: int
    rss_mib: float


def peak_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs) / 2**20)
        except psutil.Error:
            pass
        stop.wait(0.25)


async def drive(port: int, clients: int, args: argparse.Namespace) -> Round:
    ctx = multiprocessing.get_context("spawn")
    sent_q: multiprocessing.Queue = ctx.Queue()
    health_q: multiprocessing.Queue = ctx.Queue()
    stop = asyncio.Event()
    followers = [Client() for _ in range(clients)]
    tasks = [asyncio.create_task(follow(port, c, stop)) for c in followers]
    await asyncio.sleep(1.0 + clients / 200)  # every stream connected
    rss_stop, peak = threading.Event(), [0.0]
    watcher = threading.Thread(target=peak_rss, args=(harness.server_pid(port), rss_stop, peak))
    watcher.start()
    producer = ctx.Process(target=produce, args=(port, args.rate, args.batch, args.seconds, sent_q))
    prober = ctx.Process(target=probe, args=(port, args.seconds, health_q))
    producer.start()
    prober.start()
    loop = asyncio.get_running_loop()
    sent = await loop.run_in_executor(None, sent_q.get)
    latencies = await loop.run_in_executor(None, health_q.get)
    producer.join()
    prober.join()
    await asyncio.sleep(2.0)  # what was sent last reaches the clients
    stop.set()
    await asyncio.gather(*tasks)
    rss_stop.set()
    watcher.join()
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    found = re.search(r"^watchkeeper_stream_clients_dropped_total (\d+)$", metrics, re.M)
    lags = [lag for c in followers for lag in c.lags]
    delivered = statistics.median(c.events for c in followers) / sent if followers else 1.0
    return Round(
        health_p50=percentile(latencies, 0.50),
        health_p99=percentile(latencies, 0.99),
        lag_p50=percentile(lags, 0.50),
        lag_p99=percentile(lags, 0.99),
        delivered=delivered,
        dropped=int(found.group(1)) if found else 0,
        rss_mib=peak[0],
    )


@contextmanager
def code_from(src: str | None) -> Iterator[None]:
    """Run the server with the package found in ``src`` (a ``src`` directory), if given."""
    if src is None:
        yield
        return
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(pathlib.Path(src).resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def median_of(rounds: list[Round], name: str) -> float:
    return statistics.median(getattr(r, name) for r in rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=int, default=500, help="events per second")
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument("--seconds", type=float, default=20.0, help="ingest time per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument("--before", help="a src directory of other server code to compare")
    args = parser.parse_args()
    scenarios = [("baseline: no clients", 0, None), (f"{args.clients} clients", args.clients, None)]
    if args.before:
        scenarios.append((f"{args.clients} clients, --before code", args.clients, args.before))
    results: dict[str, list[Round]] = {name: [] for name, _, _ in scenarios}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            # Alternate the scenarios so that whatever else the machine does disturbs all alike.
            for name, clients, src in scenarios:
                db_path = pathlib.Path(tmp) / f"{n}-{clients}-{bool(src)}.db"
                with code_from(src), harness.watchkeeper(db_path) as port:
                    results[name].append(asyncio.run(drive(port, clients, args)))
    base = median_of(results[scenarios[0][0]], "health_p99")
    rows = [
        (
            "scenario",
            "/healthz p50",
            "/healthz p99",
            "ratio p99",
            "lag p50",
            "lag p99",
            "delivered",
            "dropped",
            "peak RSS",
        )
    ]
    for name, clients, _ in scenarios:
        rounds = results[name]
        p99 = median_of(rounds, "health_p99")
        rows.append(
            (
                name,
                f"{median_of(rounds, 'health_p50') * 1e3:.1f} ms",
                f"{p99 * 1e3:.1f} ms",
                f"{p99 / base:.2f}",
                f"{median_of(rounds, 'lag_p50') * 1e3:.0f} ms" if clients else "",
                f"{median_of(rounds, 'lag_p99') * 1e3:.0f} ms" if clients else "",
                f"{median_of(rounds, 'delivered'):.1%}" if clients else "",
                str(max(r.dropped for r in rounds)),
                f"{median_of(rounds, 'rss_mib'):.0f} MiB",
            )
        )
    print(
        f"{args.rate} events/s in batches of {args.batch} for {args.seconds:.0f} s, "
        f"{args.rounds} rounds"
    )
    print(harness.table(rows))


if __name__ == "__main__":
    main()
