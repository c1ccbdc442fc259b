"""Tasks, Agents and Incidents follow new events without a reload: new rows appear, changed
rows change, and the page's filters still hold."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.dataset import WINDOW
from tests.fleet import D, incident, ping, task

pytestmark = pytest.mark.browser

W = urlencode(WINDOW)


def open_live(page, url: str) -> None:
    """Open a page, wait for its live stream, and mark the document so a reload would show."""
    page.goto(url)
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")


def send(server, *items) -> None:
    httpx.post(f"{server.url}/api/v1/events", json=list(items)).raise_for_status()


def keys(page, table: str) -> list[str]:
    """The row keys of a table, top to bottom."""
    return page.eval_on_selector_all(f"{table} tbody tr", "rs => rs.map(r => r.dataset.row)")


def cells(page, table: str, key: str) -> list[str]:
    return page.locator(f'{table} tr[data-row="{key}"] td').all_inner_texts()


def wait_cell(page, table: str, key: str, column: int, text: str) -> None:
    page.wait_for_function(
        """([table, key, column, text]) => {
            const row = document.querySelector(`${table} tr[data-row="${key}"]`);
            return row !== null && row.cells[column].textContent.trim() === text;
        }""",
        arg=[table, key, column, text],
        timeout=10_000,
    )


def test_tasks_page_adds_and_updates_rows_live(fresh_server, page):
    open_live(page, f"{fresh_server.url}/tasks?{W}")
    assert page.locator("#task-table tbody tr").count() == 3
    assert cells(page, "#task-table", "3")[1] == "submitted"
    send(fresh_server, task(4242, D + "30.000", "created", producer=9))
    page.wait_for_selector('#task-table tr[data-row="4242"].fresh', timeout=10_000)
    assert page.inner_text("#task-list h2") == "4 tasks"
    send(fresh_server, task(3, D + "31.000", "finished", agent=777))
    wait_cell(page, "#task-table", "3", 1, "finished")
    assert "fresh" in page.get_attribute('#task-table tr[data-row="3"]', "class")
    # The newest change first, as on a fresh load.
    assert keys(page, "#task-table")[:2] == ["3", "4242"]
    assert page.evaluate("window.notReloaded") is True


def test_tasks_page_keeps_its_filters_live(fresh_server, page):
    open_live(page, f"{fresh_server.url}/tasks?{W}&agent=778")
    assert keys(page, "#task-table") == ["2"]
    send(
        fresh_server,
        task(5001, D + "40.000", "submitted", producer=0, agent=777),
        task(5002, D + "41.000", "submitted", producer=0, agent=778),
    )
    page.wait_for_selector('#task-table tr[data-row="5002"]', timeout=10_000)
    assert keys(page, "#task-table") == ["5002", "2"]
    assert page.evaluate("window.notReloaded") is True


def test_agents_page_adds_and_updates_rows_live(fresh_server, page):
    open_live(page, f"{fresh_server.url}/agents")
    assert cells(page, "#agent-table", "777")[1] == "idle"
    assert page.locator('#agent-table tr[data-row="779"]').count() == 0
    send(fresh_server, ping(779, D + "30.00", "idle", "waiting for next task", "C01"))
    page.wait_for_selector('#agent-table tr[data-row="779"].fresh', timeout=10_000)
    assert cells(page, "#agent-table", "779")[4] == "C01"
    send(fresh_server, ping(777, D + "31.00", "charging", "charging", "A07"))
    wait_cell(page, "#agent-table", "777", 1, "charging")
    assert cells(page, "#agent-table", "777")[4] == "A07"
    assert page.evaluate("window.notReloaded") is True


def test_incidents_page_adds_rows_and_updates_groups_live(fresh_server, page):
    open_live(page, f"{fresh_server.url}/incidents?{W}")
    assert page.locator("#incident-table tbody tr").count() == 1
    (fingerprint,) = keys(page, "#group-table")
    assert cells(page, "#group-table", fingerprint)[0] == "1"
    # The same trouble again on another agent: a new row, and its group counts two.
    send(fresh_server, incident(777, D + "40.00", 3))
    wait_cell(page, "#group-table", fingerprint, 0, "2")
    assert page.locator("#incident-table tbody tr").count() == 2
    newest = page.locator("#incident-table tbody tr").first
    assert "fresh" in newest.get_attribute("class")
    assert newest.locator("td").nth(1).inner_text() == "777"
    assert page.inner_text("#incident-list h2") == "2 incidents"
    assert page.evaluate("window.notReloaded") is True
