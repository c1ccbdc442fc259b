"""The Metrics page in a real Chromium: a series picked by name (with suggestions), drawn over
the window per agent and tags, redrawn live as samples arrive."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.browser

READY = "() => document.getElementById('series-chart').dataset.state === 'ready'"


def post_samples(url: str, start: float, count: int, agent: str = "1.7") -> None:
    items = [
        {"kind": "metric.series", "agent": agent, "ts": start + i, "series": [["queue.depth", i]]}
        for i in range(count)
    ]
    assert httpx.post(f"{url}/api/v1/events", json=items).status_code == 202


def drawn(page) -> dict:
    return page.eval_on_selector(
        "#series-chart",
        """el => ({points: Number(el.dataset.bars), series: Number(el.dataset.lanes),
                   legend: [...el.querySelectorAll('.legendtext')].map(t => t.textContent)})""",
    )


def test_a_series_is_picked_drawn_and_follows_live(fresh_server, page):
    now = time.time()
    post_samples(fresh_server.url, now - 600, 30)
    post_samples(fresh_server.url, now - 600, 30, agent="1.8")
    page.goto(f"{fresh_server.url}/series")
    page.wait_for_function(READY)
    assert "Pick a series" in page.inner_text("#series-chart")
    page.fill("#series-name", "queue")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#series-names option')]"
        ".some(o => o.value === 'queue.depth')"
    )
    page.fill("#series-name", "queue.depth")  # the suggestion picked
    page.click(".series-pick button[type=submit]")
    page.wait_for_url("**/series?name=queue.depth*")
    page.wait_for_function(READY)
    first = drawn(page)
    assert first["series"] == 2 and first["legend"] == ["1.7", "1.8"]
    assert 2 <= first["points"] <= 60
    assert page.inner_text("#series-step").startswith("step ")
    # Live: samples of a third agent arrive and are drawn without a reload.
    post_samples(fresh_server.url, now - 60, 5, agent="1.9")
    page.wait_for_function(
        "() => Number(document.getElementById('series-chart').dataset.lanes) === 3"
    )


def test_a_series_without_samples_says_so(fresh_server, page):
    page.goto(f"{fresh_server.url}/series?name=nothing.here")
    page.wait_for_function(READY)
    assert "No sample of nothing.here" in page.inner_text("#series-chart")
