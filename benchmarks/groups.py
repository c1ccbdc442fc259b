"""Job-group pages benchmark: ``/groups`` and a large group's page, against the API beside them.

Fills a SQLite database through the real Lamia edge functions and ``store_events`` (the
writer's transaction function, with every view) with

- 2,000 task groups of three processes (an array of 20, an array of 50 with a threshold of 40,
  a solitary job) and 10 job events each;
- one large group, ``big``: an array of 10,000 jobs that sent 10 events each (STARTED, eight
  PROGRESS, DONE or FAILED), an array of 1,000 jobs with one event each, and a solitary job,

then starts a real ``watchkeeper serve`` on it and measures each request (median and worst of 7
after a warm-up) against ``GET /healthz`` in the same run (one HTTP round trip), and the pages
in headless Chromium from navigation to "chart drawn", against loading plotly.js alone.

    python benchmarks/groups.py                 # generate into a temporary file
    python benchmarks/groups.py --db groups.db  # keep the database and reuse it next time
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

import httpx
import orjson

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dashboard import FIRST_PAINT, READY, plotly_alone, timed  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

from watchkeeper.events import Event  # noqa: E402
from watchkeeper.events.lamia import job_event, task_created  # noqa: E402
from watchkeeper.store import db as store_db  # noqa: E402
from watchkeeper.store.writer import store_events  # noqa: E402
from watchkeeper.views import ALL_VIEWS  # noqa: E402

GROUPS = 2000
BIG_JOBS = 10_000
BATCH = 20_000


def requests(start: float) -> list[Event]:
    """Every event of the data set, in order, one second apart per thousand."""
    out: list[Event] = []
    clock = [start]

    def now() -> float:
        clock[0] += 0.001
        return clock[0]

    def create(name: str, body: dict) -> None:
        out.append(task_created(name, orjson.dumps(body), client_ip="10.0.0.1", now=now()))

    def event(task: str, proc: str, index: int | None, cls: str, **extra: object) -> None:
        meta = {"host": f"wn{(index or 0) % 50}"}
        body = orjson.dumps({"eventClass": cls, "_meta": meta, **extra})
        out.extend(job_event(task, proc, index, body, client_ip="10.0.0.2", now=now()))

    shapes = {"arr": 20, "cut": [50, 40], "solo": None}
    for g in range(GROUPS):
        name = f"run-{g:05d}"
        tags = ["bench", f"t{g % 10}"]
        create(name, {"processes": shapes, "tags": tags, "username": f"u{g % 7}"})
        for i in range(4):
            event(name, "arr", i, "STARTED")
            event(name, "arr", i, "DONE")
        event(name, "solo", None, "DONE")
        event(name, "cut", g % 50, "BEAT")
    create("big", {"processes": {"arr": BIG_JOBS, "small": 1000, "solo": None}, "tags": ["big"]})
    for i in range(BIG_JOBS):
        event("big", "arr", i, "STARTED")
    for step in range(1, 9):
        for i in range(BIG_JOBS):
            event("big", "arr", i, "PROGRESS", progress=step * 11)
    for i in range(BIG_JOBS):
        event("big", "arr", i, "FAILED" if i % 23 == 0 else "DONE")
    for i in range(1000):
        event("big", "small", i, "SUBMITTED")
    event("big", "solo", None, "STARTED")
    return out


def generate(path: str) -> int:
    engine = store_db.make_engine(f"sqlite:///{path}", writer=True, synchronous="OFF")
    store_db.upgrade(engine)
    events = requests(time.time() - 86400)
    try:
        for i in range(0, len(events), BATCH):
            with engine.begin() as conn:
                store_events(conn, ALL_VIEWS, [events[i : i + BATCH]])
    finally:
        engine.dispose()
    return len(events)


REQUESTS = {
    "GET /api/v1/groups?limit=50 (API)": "/api/v1/groups?limit=50",
    "GET /groups (50 of 2001)": "/groups",
    "GET /groups?tag=t3&q=run-01": "/groups?tag=t3&q=run-01",
    "GET /groups?offset=1950": "/groups?offset=1950",
    "GET /partials/groups (live)": "/partials/groups",
    "GET /api/v1/groups/big (API)": "/api/v1/groups/big",
    "GET /groups/big (1000 cells)": "/groups/big",
    "GET /groups/big?proc=arr&first=9000": "/groups/big?proc=arr&first=9000",
    "GET /partials/groups/big (live)": "/partials/groups/big",
    "GET /groups/run-01000": "/groups/run-01000",
}


def measure_requests(client: httpx.Client) -> None:
    floor, _ = timed(lambda: client.get("/healthz").raise_for_status(), runs=21)
    print(f"\nbaseline GET /healthz: median {floor * 1000:.1f} ms")
    print(f"\n{'request':40} {'median':>9} {'worst':>9} {'÷healthz':>9} {'bytes':>9}")
    for name, path in REQUESTS.items():
        size = len(client.get(path).content)
        median, worst = timed(lambda p=path: client.get(p).raise_for_status())
        print(
            f"{name:40} {median * 1000:7.1f}ms {worst * 1000:7.1f}ms {median / floor:9.1f} {size:9}"
        )


def measure_pages(base: str) -> None:
    chromium = os.environ.get("WATCHKEEPER_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        print(f"\npages: skipped, no Chromium at {chromium}")
        return
    from playwright.sync_api import sync_playwright
    from tests.e2e.browser import LAUNCH_ARGS

    print(f"\n{'page':26} {'cold: shown':>12} {'drawn':>7} {'warm: shown':>12} {'drawn':>7}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=LAUNCH_ARGS
        )
        cold, warm = plotly_alone(browser, base)
        print(f"{'baseline: plotly.js alone':26} {cold:19.2f}s {warm:20.2f}s")
        for path in ("/groups", "/groups/big", "/groups/run-01000"):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            loads = []
            for _ in range(2):
                page.goto(base + path)
                page.wait_for_function(READY, timeout=30_000)
                drawn = page.evaluate("performance.now()") / 1000
                loads.append((page.evaluate(FIRST_PAINT) / 1000, drawn))
            context.close()
            (cold_shown, cold), (warm_shown, warm) = loads
            print(f"{path:26} {cold_shown:11.2f}s {cold:6.2f}s {warm_shown:11.2f}s {warm:6.2f}s")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file to create, or reuse when it exists")
    parser.add_argument("--no-pages", action="store_true", help="skip the browser timings")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory()
    path = pathlib.Path(args.db) if args.db else pathlib.Path(workdir.name) / "groups.db"
    if not path.exists():
        started = time.perf_counter()
        stored = generate(str(path))
        print(
            f"generated {stored} events into {path.name} in "
            f"{time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)"
        )
    server = ServerProcess(f"sqlite:///{path}").start(timeout=120)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            measure_requests(client)
        if not args.no_pages:
            measure_pages(server.url)
    finally:
        server.stop()
        workdir.cleanup()


if __name__ == "__main__":
    main()
