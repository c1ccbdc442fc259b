"""The Logs page searches log records and follows new ones live; an agent's page shows its
programs and last log lines, live; the Aborted page shows the exit codes of failed runs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.browser import save_screenshot
from tests.e2e.test_live_lists import keys, open_live, send

pytestmark = pytest.mark.browser


def record(i: int, *, agent: str = "1.7", level: int = 1, data: str | None = None,
           program: str = "web") -> dict[str, Any]:  # fmt: skip
    now = time.time() - 60 + i / 1000
    return {
        "kind": "log.record", "ts": now, "agent": agent, "job": f"{agent}/site/{program}/1",
        "domain": "site", "name": program, "epoch": now, "id": i, "log_level": level,
        "level": {7: "warning", 8: "error", 9: "critical"}.get(level, "info"),
        "data": data if data is not None else f"line {i}",
    }  # fmt: skip


def heartbeat(state: str, restarts: int, exit_code: int | None) -> dict[str, Any]:
    return {
        "kind": "component.state", "type": "agent", "id": "1.7", "state": "running",
        "ts": time.time(), "programs": [
            {"domain": "site", "name": "web", "state": state, "pid": 4321, "runs": restarts + 1,
             "restarts": restarts, "task": f"1.7/site/web/{restarts + 1}",
             "exit_code": exit_code, "stats": {"cpu": 12.5, "rss": 50 * 1048576}},
        ],
    }  # fmt: skip


def run(n: int, status: str, code: int | None) -> dict[str, Any]:
    return {
        "kind": "task.status", "task": f"1.7/site/web/{n}", "status": status, "agent": "1.7",
        "producer": "1.7", "ts": time.time() - 30 + n, "level": "error", "domain": "site",
        "name": "web", "run": n, "exit_code": code, "reason": f"exit code {code}",
    }  # fmt: skip


def test_logs_page_searches_and_follows_new_records(fresh_server, page):
    send(fresh_server, *[record(i) for i in range(5)],
         record(10, level=8, data="rsync failed: disk full"),
         record(11, agent="2.1", level=7, data="disk 91% full"))  # fmt: skip
    open_live(page, f"{fresh_server.url}/logs")
    assert "Logs" in page.locator("nav").inner_text()
    assert page.locator("#log-table tbody tr").count() == 7
    page.fill("input[name=q]", "full")
    page.fill("#filter-level", "warning")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**level=warning**")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    rows = page.locator("#log-table tbody tr").all_inner_texts()
    assert len(rows) == 2 and "disk 91% full" in rows[0] and "rsync failed" in rows[1]
    # A new match appears on top without a reload; one that does not match never does.
    send(fresh_server, record(20, level=1, data="all full of joy"),
         record(21, level=9, data="kernel: file table full"))  # fmt: skip
    page.wait_for_selector("#log-table tbody tr.fresh", timeout=10_000)
    texts = page.locator("#log-table tbody tr td.log-data").all_inner_texts()
    assert texts == ["kernel: file table full", "disk 91% full", "rsync failed: disk full"]
    assert page.evaluate("window.notReloaded") is True
    save_screenshot(page, "logs", docs=True)
    page.goto(f"{fresh_server.url}/logs?agent=2.1&job=2.1/site/web/1")
    assert page.locator("#log-table tbody tr td.log-data").all_inner_texts() == ["disk 91% full"]
    wrong = httpx.get(f"{fresh_server.url}/logs", params={"level": "9-1"})
    assert wrong.status_code == 422 and "runs backwards" in wrong.text  # says what was wrong


def test_agent_page_shows_programs_and_last_lines_live(fresh_server, page):
    send(fresh_server, heartbeat("running", 0, None), *[record(i) for i in range(3)])
    open_live(page, f"{fresh_server.url}/agents/1.7")
    cells = page.locator('#program-table tr[data-row="site/web"] td').all_inner_texts()
    assert cells[:6] == ["site/web", "running", "4321", "1", "0", "—"]
    assert cells[7:] == ["12.5", "50.0 MiB"]
    assert keys(page, "#agent-log-table")[0] is not None
    assert page.locator("#agent-log-table td.log-data").all_inner_texts() == [
        "line 2", "line 1", "line 0"]  # fmt: skip
    send(fresh_server, run(1, "failed", 3), heartbeat("backoff", 1, 3),
         record(5, level=2, data="Traceback: boom"))  # fmt: skip
    page.wait_for_function(
        """() => document.querySelector('#program-table tr[data-row="site/web"] td.exit-code')
                 ?.textContent.trim() === '3'""",
        timeout=10_000,
    )
    cells = page.locator('#program-table tr[data-row="site/web"] td').all_inner_texts()
    assert cells[1] == "backoff" and cells[4] == "1" and cells[6].split() == ["failed", "3"]
    page.wait_for_function(
        """() => document.querySelector('#agent-log-table td.log-data')
                 ?.textContent.trim() === 'Traceback: boom'""",
        timeout=10_000,
    )
    assert page.evaluate("window.notReloaded") is True
    save_screenshot(page, "agent-programs", docs=True)


def test_aborted_page_shows_the_exit_codes_of_failed_runs(fresh_server, page):
    send(fresh_server, run(1, "failed", 3), run(2, "failed", 137), run(3, "success", 0))
    page.goto(f"{fresh_server.url}/aborted?status=failed&since=-10m")
    page.wait_for_selector("#aborted-table tbody tr:not(.group-head)")
    rows = {
        cells[1]: (cells[3], cells[-1])
        for cells in (
            row.locator("td").all_inner_texts()
            for row in page.locator("#aborted-table tbody tr:not(.group-head)").all()
        )
    }
    assert rows == {
        "1.7/site/web/1": ("exit code 3", "3"),
        "1.7/site/web/2": ("exit code 137", "137"),
    }
    answer = httpx.get(f"{fresh_server.url}/api/v1/charts/aborted",
                       params={"status": "failed", "since": "-10m"}).json()  # fmt: skip
    assert sorted(t["exit_code"] for t in answer["tasks"]) == [3, 137]


def test_agent_page_draws_cpu_and_rss_from_the_metrics_api_where_there_is_one(fresh_server, page):
    """With the metrics API, each program's CPU and RSS cells get the last hour's sparkline;
    without it, they show the last sample alone and ask nothing more of the server."""
    paths = httpx.get(f"{fresh_server.url}/openapi.json").json()["paths"]
    now = time.time()
    samples = [
        {"kind": "metric.series", "ts": now - 600 + 60 * i, "agent": "1.7", "domain": "site",
         "name": "web", "interval": 60,
         "series": [["1.7.site.web.cpu", 10.0 + i], ["1.7.site.web.rss", 1048576.0 * (40 + i)]]}
        for i in range(6)
    ]  # fmt: skip
    if "/api/v1/metrics/series" not in paths:
        samples = []  # a server without metrics would refuse nothing, but keeps no series
    send(fresh_server, heartbeat("running", 0, None), *samples)
    open_live(page, f"{fresh_server.url}/agents/1.7")
    cpu = page.locator('#program-table td[data-series="1.7.site.web.cpu"]')
    if samples:
        page.wait_for_selector('#program-table td[data-series="1.7.site.web.rss"] svg.spark')
        assert int(cpu.get_attribute("data-points")) >= 2
        assert cpu.locator("svg.spark polyline").count() == 1
    else:
        page.wait_for_timeout(500)  # what it would have drawn by now
        assert cpu.locator("svg").count() == 0
    assert cpu.inner_text().strip() == "12.5"
