"""Dashboard benchmark: chart-data endpoints and page loads on a large SQLite database.

Fills a database with 100,000 tasks and about 1,000,000 events from 200 agents over one day
(``bigfleet.generate``), starts a real ``watchkeeper serve`` on it, then measures

- each ``/api/v1/charts/*`` request as the dashboard makes it, for a one-hour and a one-day
  window (budgets: 200 ms and 1 s), against ``/healthz`` measured in the same run (the floor of
  one HTTP round trip);
- each page in headless Chromium, from navigation to "every chart drawn" (budget: 2 s).

    python benchmarks/dashboard.py                  # generate into a temporary file
    python benchmarks/dashboard.py --db big.db      # keep the database and reuse it next time
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import httpx

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bigfleet import generate  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

from watchkeeper.events.timefmt import parse_time  # noqa: E402

RUNS = 7
HOUR, DAY = 3600.0, 86400.0
BUDGET = {HOUR: 0.2, DAY: 1.0}
PAGE_BUDGET = 2.0
#: When the page first showed content (ms since navigation), waiting for the entry if needed.
FIRST_PAINT = """() => new Promise(resolve => new PerformanceObserver((list, observer) => {
    const entry = list.getEntriesByName('first-contentful-paint')[0];
    if (entry) { observer.disconnect(); resolve(entry.startTime); }
}).observe({type: 'paint', buffered: true}))"""
READY = """() => [...document.querySelectorAll('[data-chart]')]
    .every(e => e.dataset.state === 'ready')"""


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def timed(call: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    """Median and worst seconds of ``runs`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def chart_requests(span: float) -> dict[str, tuple[str, dict[str, object]]]:
    """The chart requests the pages make (and the API's defaults, as Grafana would ask)."""
    return {
        "waterfall (40 rows)": ("/api/v1/charts/waterfall", {"rows": 40}),
        "aborted (200 rows)": ("/api/v1/charts/aborted", {"limit": 200}),
        "processed-per-agent (40)": (
            "/api/v1/charts/processed-per-agent",
            {"sort": "-total", "limit": 40},
        ),
        "component-status (20 lanes)": (
            "/api/v1/charts/component-status",
            {"lanes": 20, "resolution": round(span / 400, 3)},
        ),
        "waterfall, API defaults": ("/api/v1/charts/waterfall", {}),
        "component-status, API defaults": ("/api/v1/charts/component-status", {}),
    }


def measure_api(client: httpx.Client, end: float) -> None:
    floor, _ = timed(lambda: client.get("/healthz").raise_for_status(), runs=21)
    print(f"\nbaseline GET /healthz: median {floor * 1000:.1f} ms")
    print(
        f"\n{'request':34} {'window':>6} {'median':>9} {'worst':>9} {'budget':>7} "
        f"{'÷budget':>8} {'÷healthz':>9} {'rows':>6}"
    )
    for span, label in ((HOUR, "1 h"), (DAY, "1 day")):
        window = {"since": iso(end - span), "until": iso(end)}
        for name, (path, params) in chart_requests(span).items():
            query = {**window, **params}
            rows = client.get(path, params=query).json()
            count = len(rows) if isinstance(rows, list) else len(rows["tasks"])
            median, worst = timed(
                lambda p=path, q=query: client.get(p, params=q).raise_for_status()
            )
            budget = BUDGET[span]
            print(
                f"{name:34} {label:>6} {median * 1000:7.1f}ms {worst * 1000:7.1f}ms "
                f"{budget * 1000:5.0f}ms {median / budget:8.2f} {median / floor:9.1f} {count:6}"
            )


def measure_pages(base: str, end: float, task_id: str, agent_id: str) -> None:
    chromium = os.environ.get("WATCHKEEPER_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        print(f"\npages: skipped, no Chromium at {chromium}")
        return
    from playwright.sync_api import sync_playwright
    from tests.e2e.browser import LAUNCH_ARGS

    pages = [
        "/",
        "/waterfall",
        "/aborted",
        "/processed",
        "/components",
        "/tasks",
        "/incidents",
        "/agents",
        f"/agents/{agent_id}",
        f"/tasks/{task_id}",
    ]
    print(
        f"\n{'page':24} {'window':>6} {'cold: shown':>12} {'drawn':>7} {'warm: shown':>12} "
        f"{'drawn':>7} {'budget':>7} {'÷budget':>8}"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=LAUNCH_ARGS
        )
        cold, warm = plotly_alone(browser, base)
        print(f"{'baseline: plotly.js alone':31} {cold:20.2f}s {warm:20.2f}s")
        for span, label in ((HOUR, "1 h"), (DAY, "1 day")):
            window = f"since={iso(end - span)}&until={iso(end)}"
            for path in pages:
                # A new context has an empty cache: the first load fetches and compiles
                # plotly.js (cold), the second finds it in the cache (warm).
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                loads = []
                for _ in range(2):
                    sep = "&" if "?" in path else "?"
                    page.goto(f"{base}{path}{sep}{window}")
                    page.wait_for_function(READY, timeout=30_000)
                    drawn = page.evaluate("performance.now()") / 1000
                    shown = page.evaluate(FIRST_PAINT)
                    loads.append((shown / 1000, drawn))
                context.close()
                (cold_shown, cold), (warm_shown, warm) = loads
                print(
                    f"{path:24} {label:>6} {cold_shown:11.2f}s {cold:6.2f}s {warm_shown:11.2f}s "
                    f"{warm:6.2f}s {PAGE_BUDGET:6.1f}s {warm / PAGE_BUDGET:8.2f}"
                )
        browser.close()


def plotly_alone(browser, base: str) -> tuple[float, float]:
    """Seconds to fetch and run plotly.js on an empty page, with an empty cache and a warm one:
    the floor under every chart page's load."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/static/css/app.css")  # any page of this origin
    times = []
    for _ in range(2):
        times.append(
            page.evaluate(
                """url => new Promise(resolve => {
                    const script = document.createElement('script');
                    const start = performance.now();
                    script.onload = () => resolve((performance.now() - start) / 1000);
                    script.src = url;
                    document.head.append(script);
                })""",
                f"{base}/static/vendor/plotly.min.js?v=bench",
            )
        )
    context.close()
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file to create, or reuse when it exists")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--no-pages", action="store_true", help="skip the browser timings")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory()
    path = pathlib.Path(args.db) if args.db else pathlib.Path(workdir.name) / "big.db"
    if not path.exists():
        started = time.perf_counter()
        stored = generate(str(path), tasks=args.tasks, events=args.events, agents=args.agents)
        print(
            f"generated {stored} events into {path.name} in "
            f"{time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)"
        )
    server = ServerProcess(f"sqlite:///{path}").start(timeout=120)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            last = client.get("/healthz").json()["last_seq"]
            newest = client.get("/api/v1/events", params={"since_seq": last - 1}).json()
            end = parse_time(newest["events"][0]["ts"])
            tasks = client.get("/api/v1/tasks", params={"status": "aborted", "limit": 1}).json()
            summary = client.get("/api/v1/tasks", params={"limit": 1}).json()["total"]
            print(f"database: {last} events, {summary} tasks, data up to {iso(end)}")
            measure_api(client, end)
            if not args.no_pages:
                task = tasks["tasks"][0]
                measure_pages(server.url, end, task["id"], task["agent"])
    finally:
        server.stop()
        workdir.cleanup()


if __name__ == "__main__":
    main()
