"""The dashboard in a real headless Chromium, against a real server fed the fixed data set.

Chart counts come from ``tests.fleet.HISTORY`` inside ``WINDOW``: tasks 1 (created, submitted,
finished), 2 (created, submitted, aborted) and 3 (created, submitted, still running) make 8
status spans on 3 rows; agents 777 (idle, await_path, moving, idle) and 778 (idle, await_path,
recover) make 7 state spans on 2 lanes, and 2 "no signal" spans after their last pings (the
last state becomes an instant).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.browser import save_screenshot
from tests.e2e.dataset import BUSY_WINDOW, WINDOW
from tests.fleet import task

pytestmark = pytest.mark.browser

W = urlencode(WINDOW)
BUSY = urlencode(BUSY_WINDOW)
#: The last four minutes of the busy fleet: what the screenshots show.
SHOT = urlencode({"since": "2024-05-02T08:16:00Z", "until": "2024-05-02T08:20:00Z"})

READY = """() => [...document.querySelectorAll('[data-chart]')]
    .every(e => e.dataset.state === 'ready')"""


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY)


def chart(page, selector: str) -> dict:
    """What a chart drew: the counts it recorded, the bars Plotly put in the SVG, and the row
    labels from top to bottom."""
    return page.eval_on_selector(
        selector,
        """el => ({
            bars: Number(el.dataset.bars),
            lanes: el.dataset.lanes === '' ? null : Number(el.dataset.lanes),
            svg_bars: el.querySelectorAll('g.trace.bars g.point').length,
            rows: [...el.querySelectorAll('.yaxislayer-above .ytick text')]
                .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
                .map(t => t.textContent),
        })""",
    )


PAGES = [
    ("overview", "/", "Overview"),
    ("waterfall", f"/waterfall?{SHOT}", "Waterfall"),
    ("tasks", f"/tasks?{BUSY}", "Tasks"),
    ("task", "/tasks/2", "Task 2"),
    ("aborted", f"/aborted?{SHOT}", "Aborted tasks"),
    ("processed", f"/processed?{SHOT}", "Tasks processed per agent"),
    ("components", f"/components?{SHOT}", "Components"),
    ("agents", "/agents", "Agents"),
    ("agent", "/agents/2003", "Agent 2003"),
    ("incidents", f"/incidents?{BUSY}", "Incidents"),
]


@pytest.mark.parametrize(("name", "path", "heading"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_loads_without_console_errors(server, page, name, path, heading):
    open_page(page, server.url + path)
    assert page.inner_text("h1").startswith(heading)
    assert page.locator("nav#nav a.active").count() == 1
    save_screenshot(page, name, docs=True)
    # The page fixture fails the test on any console error or uncaught exception.


def test_waterfall_draws_a_bar_per_status_span_and_a_row_per_task(server, page):
    open_page(page, f"{server.url}/waterfall?{W}")
    drawn = chart(page, "#waterfall-chart")
    assert drawn["bars"] == drawn["svg_bars"] == 8
    assert drawn["lanes"] == 3
    assert drawn["rows"] == ["task 3", "task 2", "task 1"]  # newest at the top
    assert page.inner_text("#waterfall-pager") == "3 tasks"


def test_waterfall_filter_changes_the_url_and_the_data(server, page):
    open_page(page, f"{server.url}/waterfall?{W}")
    page.select_option("#filter-agent", "777")
    page.wait_for_url("**agent=777**")
    page.wait_for_function(READY)
    query = parse_qs(urlsplit(page.url).query)
    assert query["agent"] == ["777"] and query["since"] == [WINDOW["since"]]
    drawn = chart(page, "#waterfall-chart")
    assert (drawn["bars"], drawn["svg_bars"], drawn["lanes"]) == (5, 5, 2)
    assert drawn["rows"] == ["task 3", "task 1"]
    page.select_option("#filter-producer", "1")  # task 2's producer, but not on agent 777
    page.wait_for_url("**producer=1**")
    page.wait_for_function(READY)
    assert chart(page, "#waterfall-chart")["bars"] == 0


def test_waterfall_pages_through_many_tasks(server, page):
    open_page(page, f"{server.url}/waterfall?{BUSY}")
    assert chart(page, "#waterfall-chart")["lanes"] == 40
    total = httpx.get(f"{server.url}/api/v1/charts/waterfall", params={**BUSY_WINDOW, "rows": 1})
    count = int(total.headers["X-Total-Count"])
    assert page.inner_text("#waterfall-pager").split("\n")[1] == f"1–40 of {count} tasks"
    page.click("#waterfall-pager a[rel=next]")
    page.wait_for_url("**offset=40**")
    page.wait_for_function(READY)
    assert page.inner_text("#waterfall-pager").split("\n")[1] == f"41–80 of {count} tasks"


def test_clicking_a_bar_opens_its_task(server, page):
    open_page(page, f"{server.url}/waterfall?{W}&agent=778")
    box = page.locator("#waterfall-chart g.trace.bars g.point path").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/tasks/2")
    page.wait_for_function(READY)
    assert chart(page, "#task-chart")["bars"] == 3
    assert page.locator("#history-table tbody tr").count() == 3
    incident = page.inner_text("#task-incidents tbody tr")
    assert "something went wrong (e.g. network problem)" in incident
    assert "location-code → target-location-code" in incident


def test_aborted_chart_and_its_incident_context(server, page):
    open_page(page, f"{server.url}/aborted?{W}")
    # Two hours in 5-minute buckets, one of them with the abort of task 2.
    assert chart(page, "#aborted-chart")["bars"] == 24
    groups = page.locator("#aborted-table tbody")
    assert groups.count() == 1
    head = groups.locator("tr.group-head").inner_text()
    assert head.startswith("1 task") and "something went wrong" in head
    cells = groups.locator("tr").nth(1).locator("td").all_inner_texts()
    assert cells[1:8] == [
        "2",
        "778",
        "something went wrong (e.g. network problem)",
        "named the task",
        "await_path",
        "location-code → target-location-code",
        "1 (2 left)",
    ]
    assert cells[8].split() == ["await_path", "5", "idle", "0", "recover", "0"]


def test_processed_per_agent_is_sortable(server, page):
    open_page(page, f"{server.url}/processed?{W}")
    drawn = chart(page, "#processed-chart")
    assert (drawn["lanes"], drawn["bars"]) == (2, 6)  # finished, failed, aborted per agent
    rows = page.locator("#processed-table tbody tr").all_inner_texts()
    assert [r.split("\t")[:5] for r in rows] == [
        ["777", "1", "0", "0", "1"],
        ["778", "0", "0", "1", "1"],
    ]
    page.click("#processed-table th >> text=Aborted")
    page.wait_for_url("**sort=-aborted**")
    page.wait_for_function(READY)
    first = page.locator("#processed-table tbody tr").first.inner_text()
    assert first.split("\t")[:4] == ["778", "0", "0", "1"]
    assert chart(page, "#processed-chart")["rows"] == ["agent 778", "agent 777"]


def test_component_timeline_has_a_lane_per_instance(server, page):
    # Twenty seconds: wide enough for every state span of HISTORY, none merged.
    span = urlencode({"since": "2024-05-01T10:00:00Z", "until": "2024-05-01T10:00:20Z"})
    open_page(page, f"{server.url}/components?{span}")
    drawn = chart(page, "#components-chart")
    # Both agents went silent after their last ping: that state is an instant, and the
    # silence a "no signal" span of its own.
    assert (drawn["bars"], drawn["svg_bars"], drawn["lanes"]) == (9, 9, 2)
    assert drawn["rows"] == ["agent 777", "agent 778"]
    # The table shows every instance now, with its state and liveness: ten agents, and the
    # three producers seen through the tasks they created.
    assert page.locator("#instances-table tbody tr").count() == 13
    page.select_option("#filter-type", "agent")
    page.wait_for_url("**type=agent**")
    page.wait_for_function(READY)
    assert chart(page, "#components-chart")["lanes"] == 2


def test_agent_page(server, page):
    open_page(page, f"{server.url}/agents/778")
    assert chart(page, "#pings-chart")["bars"] == 3  # idle, await_path, recover
    assert chart(page, "#states-chart")["bars"] == 4  # and the silence since its last ping
    assert page.locator("#agent-tasks tbody tr").all_inner_texts()[0].split("\t")[:2] == [
        "2",
        "aborted",
    ]
    assert page.locator("#agent-incidents tbody tr").count() == 1


def test_incident_search_and_groups(server, page):
    open_page(page, f"{server.url}/incidents?{W}")
    assert page.locator("#group-table tbody tr").count() == 1
    page.fill("form.filters input[name=q]", "network")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=network**")
    assert page.locator("#incident-table tbody tr").count() == 1
    page.fill("form.filters input[name=q]", "no such thing")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=no+such+thing**")
    assert page.locator("#incident-table tbody tr").count() == 0


def test_time_window_presets_and_custom_range_live_in_the_url(server, page):
    open_page(page, f"{server.url}/waterfall?{W}&agent=777")
    page.click(".window-control a.chip >> text=6h")
    page.wait_for_url("**since=-6h**")
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"agent": ["777"], "since": ["-6h"]}
    page.fill(".custom-window input[name=since]", "2024-05-01T10:00:00")
    page.fill(".custom-window input[name=until]", "2024-05-01T10:00:05")
    page.click(".custom-window button")
    page.wait_for_url("**until=2024-05-01T10%3A00%3A05**")
    page.wait_for_function(READY)
    # The agent filter stayed: task 1 (task 2 ran on 778, task 3 was created at 10:00:13).
    assert parse_qs(urlsplit(page.url).query)["agent"] == ["777"]
    assert chart(page, "#waterfall-chart")["rows"] == ["task 1"]


def test_theme_toggle_is_remembered(server, page):
    open_page(page, f"{server.url}/waterfall?{SHOT}")
    before = page.get_attribute("html", "data-theme")
    page.click("#theme-toggle")
    after = "dark" if before == "light" else "light"
    assert page.get_attribute("html", "data-theme") == after
    page.reload()
    page.wait_for_function(READY)
    assert page.get_attribute("html", "data-theme") == after
    if after == "dark":
        save_screenshot(page, "waterfall-dark", docs=True)


@pytest.mark.parametrize("path", ["/", f"/waterfall?{SHOT}", f"/aborted?{SHOT}", "/agents"])
def test_usable_on_a_phone(server, browser, path):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    try:
        open_page(page, server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        if path == "/":
            save_screenshot(page, "overview-phone", docs=True)
        assert not page.is_visible("nav#nav a >> nth=1")
        page.click(".nav-toggle")
        assert page.is_visible("nav#nav a >> nth=1")
    finally:
        context.close()


def test_an_event_posted_appears_without_a_reload(fresh_server, page):
    open_page(page, fresh_server.url + "/")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    assert page.inner_text("[data-stat=tasks]") == "3"
    item = task(4242, "2024-05-01 10:00:30.000", "created", producer=9)
    assert httpx.post(f"{fresh_server.url}/api/v1/events", json=item).status_code == 202
    page.wait_for_selector("#event-feed li.fresh >> text=task 4242")
    page.wait_for_function("document.querySelector('[data-stat=tasks]').textContent === '4'")
    assert page.evaluate("window.notReloaded") is True


def test_charts_follow_new_events_without_a_reload(fresh_server, page):
    open_page(page, f"{fresh_server.url}/waterfall?{W}")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    assert chart(page, "#waterfall-chart")["bars"] == 8
    item = task(4242, "2024-05-01 10:00:30.000", "created", producer=9)
    httpx.post(f"{fresh_server.url}/api/v1/events", json=item).raise_for_status()
    page.wait_for_function(
        "document.querySelector('#waterfall-chart').dataset.bars === '9'", timeout=10_000
    )
    drawn = chart(page, "#waterfall-chart")
    assert drawn["lanes"] == 4 and drawn["rows"][0] == "task 4242"
    assert page.evaluate("window.notReloaded") is True


def test_charts_and_badges_use_the_same_colours(server, page):
    from watchkeeper.ui import palette

    open_page(page, f"{server.url}/agents")
    for kind, name in [
        ("status", "submitted"),
        ("status", "killed"),
        ("state", "charging"),
        ("state", "Ünïcode-state"),
        ("liveness", "stale"),
    ]:
        assert page.evaluate("([k, n]) => WK.colour(k, n)", [kind, name]) == palette.colour(
            kind, name
        )
