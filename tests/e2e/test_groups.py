"""The job-group pages in a real headless Chromium, against a real server fed Lamia requests
(``tests/e2e/lamia_dataset.py``: the walk-through of ``examples/lamia.sh`` and two more)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.browser import save_screenshot
from tests.e2e.lamia_dataset import EXPECTED, NAMES, Lamia, feed, feed_walk
from tests.e2e.test_dashboard import READY, open_page
from tests.support import ServerProcess
from watchkeeper.ui import palette

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lamia_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One server with the whole Lamia data set, for the read-only tests."""
    tmp = tmp_path_factory.mktemp("groups")
    proc = ServerProcess(f"sqlite:///{tmp / 'wk.db'}", log_path=str(tmp / "server.log")).start()
    feed(proc.url)
    yield proc
    proc.stop()


@pytest.fixture
def walk_server(tmp_path) -> Iterator[ServerProcess]:
    """A server with only the walk-through, for tests that add events."""
    proc = ServerProcess(
        f"sqlite:///{tmp_path / 'wk.db'}", log_path=str(tmp_path / "server.log")
    ).start()
    feed_walk(Lamia(proc.url))
    yield proc
    proc.stop()


def rgb(hex_colour: str) -> str:
    """A palette colour as the browser computes it."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def cells(page, proc: str) -> list[dict]:
    """What one process's grid drew: every cell's index, class, colour and tooltip."""
    return page.eval_on_selector_all(
        f".slot-grid[data-proc='{proc}'] li",
        """cells => cells.map(c => ({
            index: c.dataset.index, cls: c.dataset.class, title: c.title,
            colour: getComputedStyle(c).backgroundColor, empty: c.classList.contains('empty'),
        }))""",
    )


def bar(page, selector: str) -> dict:
    """A progress bar's text and how much of it is filled (0 to 1)."""
    return page.eval_on_selector(
        selector,
        """el => ({
            text: el.querySelector('.progress-text').textContent,
            filled: el.querySelector('.progress-fill').getBoundingClientRect().width
                / el.getBoundingClientRect().width,
        })""",
    )


def listed(page) -> list[str]:
    return page.eval_on_selector_all(
        "#group-table tbody.group", "rows => rows.map(r => r.dataset.group)"
    )


PAGES = [
    ("groups", "/groups", "Job groups"),
    ("group", "/groups/calib-2024-05", "Group calib-2024-05"),
    ("group-walk", "/groups/walk", "Group walk"),
]


@pytest.mark.parametrize(("name", "path", "heading"), PAGES, ids=[p[0] for p in PAGES])
def test_group_page_loads_without_console_errors(lamia_server, page, name, path, heading):
    open_page(page, lamia_server.url + path)
    assert page.inner_text("h1") == heading
    assert page.inner_text("nav#nav a.active") == "Job groups"
    save_screenshot(page, name, docs=name in ("groups", "group"))


def test_the_list_shows_every_group_with_its_progress(lamia_server, page):
    open_page(page, lamia_server.url + "/groups")
    assert listed(page) == NAMES
    for name, expected in EXPECTED.items():
        row = f"#group-table tbody[data-group='{name}']"
        group = bar(page, f"{row} tr:first-child .progress")
        assert group["text"] == expected["progress"]
        assert group["filled"] == pytest.approx(float(expected["progress"][:-1]) / 100, abs=0.01)
        for proc, text in expected["processes"].items():
            assert bar(page, f"{row} .proc-bars li[data-proc='{proc}'] .progress")["text"] == text


def test_the_grid_has_a_cell_per_job_coloured_by_its_last_event(lamia_server, page):
    open_page(page, lamia_server.url + "/groups/walk")
    for proc, count in EXPECTED["walk"]["cells"].items():
        drawn = cells(page, proc)
        assert len(drawn) == count
        assert sum(not c["empty"] for c in drawn) == EXPECTED["walk"]["reported"][proc]
    one = cells(page, "tstArray1")
    assert [c["index"] for c in one] == [str(i) for i in range(10)]
    assert [c["cls"] for c in one[:3]] == ["PROGRESS", "PROGRESS", "FAILED"]
    assert [c["colour"] for c in one[:3]] == [
        rgb(palette.EVENT_CLASS["PROGRESS"]),
        rgb(palette.EVENT_CLASS["PROGRESS"]),
        rgb(palette.EVENT_CLASS["FAILED"]),
    ]
    assert one[1]["title"].split("\n")[:2] == [
        "walk/tstArray1[1]",
        "class PROGRESS · progress 90 · host wn07",
    ]
    assert one[9]["title"] == "walk/tstArray1[9]\nno event yet"
    two = cells(page, "tstArray2")
    assert {c["colour"] for c in two[:8]} == {rgb(palette.EVENT_CLASS["DONE"])}
    for proc, text in EXPECTED["walk"]["processes"].items():
        assert bar(page, f"#process-table tr[data-proc='{proc}'] .progress")["text"] == text
    # The progress history: a line per process, a point per change (tstArray1 0, 4, 13;
    # tstArray2 0 and eight DONE; someJob1 0 and 100).
    chart = page.eval_on_selector(
        "#history-chart",
        """el => ({points: Number(el.dataset.bars),
                   lines: el.querySelectorAll('g.trace.scatter').length})""",
    )
    assert chart == {"points": 14, "lines": 3}
    # A slot opens its job's task.
    page.click(".slot-grid[data-proc='tstArray1'] li[data-index='2'] a")
    page.wait_for_url("**/tasks/walk/tstArray1%5B2%5D")
    page.wait_for_function(READY)
    assert page.inner_text("h1").startswith("Task walk/tstArray1[2]")


def test_a_one_based_array_is_drawn_from_1(lamia_server, page):
    open_page(page, lamia_server.url + "/groups/slurm-sim")
    drawn = cells(page, "sim")
    assert [c["index"] for c in drawn] == ["1", "2", "3", "4", "5"]
    assert [c["cls"] for c in drawn] == ["DONE", "", "DONE", "", "DONE"]
    assert bar(page, "#group-summary .progress")["text"] == "60%"


def test_a_filter_changes_the_url_and_the_data(lamia_server, page):
    open_page(page, lamia_server.url + "/groups")
    page.fill("#group-filters input[name=tag]", "testing")
    page.click("#group-filters button[type=submit]")
    page.wait_for_url("**tag=testing**")
    assert parse_qs(urlsplit(page.url).query) == {"tag": ["testing"]}
    assert listed(page) == ["slurm-sim", "walk"]
    # A tag of a row adds itself to the filter.
    page.click("#group-table tbody[data-group='slurm-sim'] a.tag >> text=slurm")
    page.wait_for_url("**tag=testing%2Cslurm**")
    assert listed(page) == ["slurm-sim"]
    # Removing a filter chip drops that tag only.
    page.click(".active-filters a.chip >> text=tag testing")
    page.wait_for_url("**tag=slurm**")
    assert parse_qs(urlsplit(page.url).query) == {"tag": ["slurm"]}
    page.fill("#group-filters input[name=q]", "nothing-like-this")
    page.click("#group-filters button[type=submit]")
    page.wait_for_url("**q=nothing-like-this**")
    assert listed(page) == []
    assert "No group matches." in page.inner_text("#group-table")


def test_an_event_recolours_a_slot_without_a_reload(walk_server, page):
    open_page(page, walk_server.url + "/groups/walk")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    slot = ".slot-grid[data-proc='tstArray1'] li[data-index='5']"
    assert page.get_attribute(slot, "data-class") == ""
    lamia = Lamia(walk_server.url)
    lamia.event("walk", "tstArray1", "STARTED", 5, host="wn42")
    page.wait_for_selector(f"{slot}[data-class='STARTED']")
    assert cells(page, "tstArray1")[5]["colour"] == rgb(palette.EVENT_CLASS["STARTED"])
    assert "host wn42" in page.get_attribute(slot, "title")
    # A progress value moves the bars and the history: (40 + 90 + 50) / 10 = 18.
    answer = lamia.event("walk", "tstArray1", "PROGRESS", 5, progress=50)
    assert answer["progress"] == 18.0
    page.wait_for_function(
        "document.querySelector(\"#process-table tr[data-proc='tstArray1'] .progress-text\")"
        ".textContent === '18%'"
    )
    page.wait_for_function("document.querySelector('#history-chart').dataset.bars === '15'")
    assert page.get_attribute(slot, "data-class") == "PROGRESS"
    assert page.inner_text("#event-table tbody tr:first-child").split("\t")[1:3] == [
        "tstArray1[5]",
        "PROGRESS",
    ]
    # Events of other groups do not refresh this page.
    refreshed = page.get_attribute(".group-page", "data-refreshed")
    lamia.create("elsewhere", {"processes": {"p": None}})
    lamia.event("elsewhere", "p", "DONE")
    page.wait_for_timeout(1500)
    assert page.get_attribute(".group-page", "data-refreshed") == refreshed
    assert page.evaluate("window.notReloaded") is True


def test_the_list_follows_new_groups_without_a_reload(walk_server, page):
    open_page(page, walk_server.url + "/groups")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    assert listed(page) == ["walk"]
    lamia = Lamia(walk_server.url)
    lamia.create("fresh", {"processes": {"arr": 4}, "tags": ["new"]})
    page.wait_for_selector("#group-table tbody[data-group='fresh']")
    lamia.event("fresh", "arr", "DONE", 0)
    page.wait_for_function(
        "document.querySelector(\"tbody[data-group='fresh'] li[data-proc='arr'] "
        ".progress-text\").textContent === '25%'"
    )
    assert listed(page) == ["fresh", "walk"]
    assert page.evaluate("window.notReloaded") is True


def test_a_deleted_group_says_so(walk_server, page):
    open_page(page, walk_server.url + "/groups/walk")
    page.wait_for_selector("#live-status[data-state=on]")
    assert page.is_hidden("#group-gone")
    assert httpx.delete(f"{walk_server.url}/api/v0/walk").status_code == 200
    page.wait_for_selector("#group-gone", state="visible")
    page.console.errors.clear()  # the browser logs the partial's 404


def test_a_missing_group_is_a_404_page(lamia_server, page):
    response = page.goto(lamia_server.url + "/groups/nope")
    assert response.status == 404
    assert "group 'nope' not found" in page.inner_text("main")
    page.console.errors.clear()  # the browser logs the 404 itself


def test_class_colours_are_the_same_in_the_browser(lamia_server, page):
    open_page(page, lamia_server.url + "/groups")
    for name in ["DONE", "done", "Beat", "TERMINATED", "HELD", "Checkpointed", "Ünïcode"]:
        assert page.evaluate("n => WK.colour('class', n)", name) == palette.colour("class", name)


@pytest.mark.parametrize("path", ["/groups", "/groups/calib-2024-05"])
def test_usable_on_a_phone(lamia_server, browser, path):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    try:
        open_page(page, lamia_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finally:
        context.close()
