"""Pages that tell why: the Aborted page switching to failed tasks with the reason each
incident is linked, a task's linked incidents, and an agent's silence drawn as "no signal".

A server of its own with ``tests.fleet.HISTORY`` and, on top, task 20 failing on agent 778
after an incident that names no task, and task 21 on 778 named by an incident of its own.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.browser import save_screenshot
from tests.e2e.dataset import WINDOW
from tests.e2e.test_dashboard import READY, open_page
from tests.fleet import incident, task

pytestmark = pytest.mark.browser

W = urlencode(WINDOW)
D = "2024-05-01 10:00:"
EXTRA = [
    task(20, D + "20.000", "submitted", producer=1, agent=778),
    incident(778, D + "28.00", None, "lost the path"),
    task(20, D + "30.000", "failed", agent=778, level="error"),
    task(21, D + "31.000", "submitted", producer=1, agent=778),
    incident(778, D + "32.00", 21, "lift jammed"),
    task(21, D + "40.000", "failed", agent=778, level="error"),
]


@pytest.fixture
def fed(fresh_server):
    r = httpx.post(f"{fresh_server.url}/api/v1/events", json=EXTRA, timeout=30)
    assert r.status_code == 202, r.text
    return fresh_server


def test_the_aborted_page_switches_to_failed_tasks_and_says_why(fed, page):
    open_page(page, f"{fed.url}/aborted?{W}")
    assert page.inner_text("h1") == "Aborted tasks"
    assert page.inner_text("#aborted-total") == "1 aborted"

    page.select_option("#filter-status", "failed")
    page.wait_for_url("**status=failed**")
    page.wait_for_function(READY)
    assert page.inner_text("h1") == "Failed tasks"
    assert page.inner_text(".card-head h2 >> nth=0") == "Failed tasks over time"
    assert page.inner_text("#aborted-total") == "2 failed"
    rows = {
        cells[1]: (cells[3], cells[4])
        for cells in (
            row.locator("td").all_inner_texts()
            for row in page.locator("#aborted-table tbody tr:not(.group-head)").all()
        )
    }
    assert rows == {
        "20": ("lost the path", "same agent, 2 s before"),
        "21": ("lift jammed", "named the task"),
    }
    # The bars take the colour of failed tasks, not the one of aborted tasks.
    from watchkeeper.ui import palette

    colour = page.eval_on_selector("#aborted-chart", "el => el.data[0].marker.color")
    assert colour == palette.colour("status", "failed") != palette.colour("status", "aborted")
    save_screenshot(page, "failed")


def test_a_task_page_says_why_each_incident_is_linked(fed, page):
    open_page(page, f"{fed.url}/tasks/20")
    assert page.inner_text("#task-incidents thead").split("\t")[1] == "Linked because"
    cells = page.locator("#task-incidents tbody tr").all_inner_texts()
    assert len(cells) == 1 and "same agent, 2 s before" in cells[0]
    assert "lift jammed" not in page.inner_text("main")


def test_a_silent_agent_is_drawn_without_signal(fed, page):
    open_page(page, f"{fed.url}/agents/777")
    traces = page.eval_on_selector(
        "#states-chart", "el => el.data.map(t => [t.name, t.marker.color])"
    )
    from watchkeeper.ui import palette

    assert ["no signal", palette.colour("state", "no signal")] in traces
