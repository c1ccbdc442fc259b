"""Chart pages opened without a window fit their time axis to the data they show.

The data set's busy fleet ran for twenty minutes on 2024-05-02 (long before "now"): opened
plainly, the waterfall, the component timeline and the aborted chart must show those minutes
across the whole axis, not an empty last hour nor a sliver of it; a preset stays an explicit
choice, in the URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.test_dashboard import READY, chart
from tests.fleet import task

pytestmark = pytest.mark.browser

#: The padding WK.fit adds on each side, as a share of the data's span (with some slack).
PAD = 0.05


def ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def x_range(page, selector: str) -> tuple[float, float]:
    """The time axis a chart drew, in epoch ms (Plotly keeps zone-less UTC strings)."""
    lo, hi = page.eval_on_selector(selector, "el => el._fullLayout.xaxis.range")
    return ms(lo.replace(" ", "T") + "Z"), ms(hi.replace(" ", "T") + "Z")


def open_plain(page, url: str) -> dict:
    page.goto(url)
    page.wait_for_function(READY)
    return page.evaluate("WK.config.window")


def assert_fits(drawn: tuple[float, float], first: float, last: float) -> None:
    """The axis holds [first, last] and is not much wider: the data fills it."""
    lo, hi = drawn
    assert lo <= first and hi >= last, (drawn, first, last)
    assert hi - lo <= (last - first) * (1 + 2 * PAD) + 1000, (drawn, first, last)


def span_times(spans: list[dict], start: float, open_end: float) -> tuple[float, float]:
    """First and last time the spans start, change or end at, from the window's start on."""
    times = [ms(s["start"]) for s in spans]
    times += [ms(s["end"]) if s["end"] else open_end for s in spans]
    inside = [t for t in times if t >= start]
    return min(inside), max(inside)


def test_waterfall_fits_the_latest_activity(server, page):
    window = open_plain(page, f"{server.url}/waterfall")
    assert window["latest"] is not None
    latest = window["latest"] * 1000
    # The latest activity is the busy fleet's last task update, not now.
    assert ms("2024-05-02T08:15:00Z") < latest <= ms("2024-05-02T08:20:00Z")
    spans = httpx.get(
        f"{server.url}/api/v1/charts/waterfall",
        params={
            "since": datetime.fromtimestamp(window["start"], UTC).isoformat(),
            "until": datetime.fromtimestamp(window["latest"], UTC).isoformat(),
            "rows": 40,
        },
    ).json()
    drawn = chart(page, "#waterfall-chart")
    assert drawn["lanes"] == 40 and drawn["bars"] == len(spans)
    first, last = span_times(spans, window["start"] * 1000, latest)
    assert_fits(x_range(page, "#waterfall-chart"), first, last)
    # Nothing in the URL; "fit" is the active choice and "from" shows what is drawn.
    assert urlsplit(page.url).query == ""
    assert page.inner_text(".window-control a.chip.active") == "fit"
    lo, hi = x_range(page, "#waterfall-chart")
    assert abs(ms(page.input_value(".custom-window input[name=since]") + "Z") - lo) < 1000
    assert abs(ms(page.input_value(".custom-window input[name=until]") + "Z") - hi) < 1000
    # Applied, they become an explicit window with the same view.
    page.click(".custom-window button")
    page.wait_for_url("**until=**")
    page.wait_for_function(READY)
    assert page.locator(".window-control a.chip.active").count() == 0
    applied = x_range(page, "#waterfall-chart")
    assert abs(applied[0] - lo) < 1000 and abs(applied[1] - hi) < 1000


def test_a_preset_is_an_explicit_window_and_fit_returns(server, page):
    open_plain(page, f"{server.url}/waterfall?agent=2003")
    page.click(".window-control a.chip >> text=1h")
    page.wait_for_url("**since=-1h**")
    page.wait_for_function(READY)
    assert parse_qs(urlsplit(page.url).query) == {"agent": ["2003"], "since": ["-1h"]}
    lo, hi = x_range(page, "#waterfall-chart")
    assert abs((hi - lo) - 3600_000) < 5000  # the hour asked for, though it holds no data
    assert chart(page, "#waterfall-chart")["bars"] == 0
    page.click(".window-control a.chip >> text=fit")
    page.wait_for_url(lambda url: "since" not in url)
    page.wait_for_function(READY)
    assert parse_qs(urlsplit(page.url).query) == {"agent": ["2003"]}
    assert chart(page, "#waterfall-chart")["bars"] > 0
    lo, hi = x_range(page, "#waterfall-chart")
    assert hi - lo < 25 * 60_000 and hi <= ms("2024-05-02T08:21:00Z")


def test_component_timeline_fits_the_latest_activity(server, page):
    window = open_plain(page, f"{server.url}/components?type=agent")
    latest = window["latest"] * 1000
    spans = httpx.get(
        f"{server.url}/api/v1/charts/component-status",
        params={
            "since": datetime.fromtimestamp(window["start"], UTC).isoformat(),
            "until": datetime.fromtimestamp(window["latest"], UTC).isoformat(),
            "type": "agent",
            "lanes": 20,
        },
    ).json()
    drawn = chart(page, "#components-chart")
    # The busy fleet's eight agents, and HISTORY's two, whose last states (a day older) are
    # still open: they run off the left edge instead of stretching the axis.
    assert drawn["lanes"] == 10
    first, last = span_times(spans, window["start"] * 1000, latest)
    assert_fits(x_range(page, "#components-chart"), first, last)


def test_aborted_chart_fits_its_aborts(server, page):
    open_plain(page, f"{server.url}/aborted")
    lo, hi = x_range(page, "#aborted-chart")
    assert ms("2024-05-02T07:59:00Z") <= lo and hi <= ms("2024-05-02T08:21:00Z")
    assert hi - lo > 10 * 60_000  # aborts all along the busy fleet's twenty minutes
    rows = page.locator("#aborted-table tbody tr:not(.group-head)").count()
    assert rows > 0


def test_the_from_field_shows_its_whole_value(server, page):
    open_plain(page, f"{server.url}/waterfall")
    field = page.locator(".custom-window input[name=since]")
    assert len(field.input_value()) == 19  # YYYY-MM-DDTHH:MM:SS
    # The date and time the browser draws inside the field (its intrinsic width) fit its box.
    width, needed = field.evaluate(
        """el => {
            const width = el.getBoundingClientRect().width;
            el.style.width = "max-content";
            const needed = el.getBoundingClientRect().width;
            el.style.width = "";
            return [width, needed];
        }"""
    )
    assert width >= needed


def test_a_fitted_axis_grows_with_live_events(fresh_server, page):
    # HISTORY alone: its latest task change is task 3's at 10:00:14 on 2024-05-01.
    open_plain(page, f"{fresh_server.url}/waterfall")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    assert chart(page, "#waterfall-chart")["lanes"] == 3
    assert x_range(page, "#waterfall-chart")[1] < ms("2024-05-01T10:01:00Z")  # a minute at least
    item = task(4242, "2024-05-01 10:05:00.000", "created", producer=9)
    httpx.post(f"{fresh_server.url}/api/v1/events", json=item).raise_for_status()
    page.wait_for_function(
        "document.querySelector('#waterfall-chart').dataset.lanes === '4'", timeout=10_000
    )
    assert chart(page, "#waterfall-chart")["rows"][0] == "task 4242"
    lo, hi = x_range(page, "#waterfall-chart")
    assert lo < ms("2024-05-01T10:00:01Z") and ms("2024-05-01T10:05:00Z") < hi
    assert hi < ms("2024-05-01T10:06:00Z")
    assert page.evaluate("window.notReloaded") is True
