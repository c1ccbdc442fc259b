"""The live state page in a real headless Chromium, against a real server: the tree follows the
merge patches of the state stream, counters show their sources, intents and errors refresh."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.browser import save_screenshot
from tests.e2e.conftest import start_server
from tests.support import ServerProcess
from watchkeeper.ui import palette

pytestmark = pytest.mark.browser

#: A small fleet's state: what the page is photographed with.
STATE: list[dict[str, Any]] = [
    {"source": "blade_host_A", "blade_host_A": {"msg": "Hello World", "modules": {"v2": "up"}}},
    {"source": "scraper_host_1", "scraper_1": {"items": {"$inc": 12}}},
    {"source": "scraper_host_2", "scraper_1": {"items": {"$inc": 7}}},
    {"source": "scraper_host_2", "scraper_1": {"items": {"$inc": -2}}},
    {
        "source": "scraper_host_1",
        "scraper_1": {"by_site": {"example.com": {"tries": {"$inc": 4}}}},
    },
    {"source": "orchestrator", "intents": {"i-1": {"host": "blade_host_A", "module": "v2"}}},
    {"source": "orchestrator", "intents": {"i-2": {"host": "blade_host_B", "module": "v2"}}},
    {"source": "blade_host_B", "intents": {"i-2": {"resolution": {"blade_host_B": "ok"}}}},
    {"source": "orchestrator", "intents": {"i-3": {"host": "blade_host_C", "module": "v3"}}},
    {"source": "scraper_host_1", "intents": {"i-3": {"resolution": {"scraper_host_1": 1}}}},
    {"source": "orchestrator", "intents": {"i-4": {"host": "blade_host_D", "module": "v3"}}},
    {"source": "scraper_host_2", "intents": {"i-4": {"resolution": {"scraper_host_2": 1}}}},
    {"source": "spotter_host_1", "intents": {"i-4": {"resolution": {"spotter_host_1": 1}}}},
    {
        "source": "blade_host_B",
        "level": "error",
        "blade_host_B": {"scraper": {"error": "timeout", "url": "https://example.com/x"}},
    },
    # Three counts in a job that expired long ago: folded into _expired_totals.
    {
        "source": "orchestrator",
        "ts": time.time() - 3600,
        "jobs": {"j-1": {"$ttl": 60, "value": {"done": {"$inc": 3}}}},
    },
    {"source": "queue", "queue": {"shard_1": {"items": {f"k{i:03d}": i for i in range(150)}}}},
]

TREE = """el => {
    function walk(ul) {
        const out = {};
        for (const li of ul.querySelectorAll(':scope > li.node')) {
            const kids = li.querySelector(':scope > ul.children');
            out[li.dataset.key] = li.classList.contains('branch')
                ? (kids ? walk(kids) : 'collapsed')
                : JSON.parse(li.querySelector(':scope > .value').textContent);
        }
        return out;
    }
    const root = el.querySelector(':scope > ul.root');
    return root ? walk(root) : null;
}"""


def post(server: ServerProcess, shards: Any) -> int:
    response = httpx.post(f"{server.url}/api/v1/state", json=shards, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["last_seq"]


def node(pointer: str) -> str:
    return f'#state-tree li[data-pointer="{pointer}"]'


def open_state(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("document.getElementById('state-tree').dataset.state === 'ready'")
    page.wait_for_function("document.getElementById('state-tree').dataset.counters !== undefined")


def wait_seq(page, seq: int) -> None:
    """Until the tree has applied everything up to ``seq``."""
    page.wait_for_function(
        f"Number(document.getElementById('state-tree').dataset.seq) >= {seq}", timeout=10_000
    )


@pytest.fixture(scope="module")
def state_server(tmp_path_factory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory.mktemp("state"), busy=False)
    post(proc, STATE)
    yield proc
    proc.stop()


def test_state_page_loads_without_console_errors(state_server, page):
    open_state(page, f"{state_server.url}/state")
    assert page.inner_text("h1") == "Live state"
    assert page.inner_text("nav#nav a.active") == "Live state"
    # The row count of the intents table settles once the tables' first refresh is in.
    assert page.locator("#intent-table tbody tr").count() == 4
    save_screenshot(page, "state", docs=True)


def test_the_tree_collapses_below_depth_two_and_bounds_what_it_draws(state_server, page):
    open_state(page, f"{state_server.url}/state")
    tree = page.eval_on_selector("#state-tree", TREE)
    assert tree["blade_host_A"] == {"modules": {"v2": "up"}, "msg": "Hello World"}
    assert tree["scraper_1"] == {"by_site": {"example.com": "collapsed"}, "items": 17}
    assert tree["queue"] == {"shard_1": {"items": "collapsed"}}
    items = node("/queue/shard_1/items")
    assert page.inner_text(f"{items} > .summary") == "{150 keys}"
    page.click(f"{items} > button.toggle")
    assert page.locator(f"{items} > ul > li.node").count() == 100
    assert page.inner_text(f"{items} > ul > li.more") == "50 more…"
    page.click(f"{items} > ul > li.more button")
    assert page.locator(f"{items} > ul > li.node").count() == 150
    assert page.locator(f"{items} > ul > li.more").count() == 0
    assert page.inner_text(f"{node('/queue/shard_1/items/k149')} > .value") == "149"


def test_a_counter_shows_its_sources_on_hover(state_server, page):
    open_state(page, f"{state_server.url}/state")
    value = f"{node('/scraper_1/items')} > .value"
    page.hover(value)
    assert page.get_attribute(value, "class") == "value number counter"
    assert page.get_attribute(value, "title") == (
        "counter: 17 from 2 sources\nscraper_host_1: 12 (+12 −0)\nscraper_host_2: 5 (+7 −2)"
    )
    assert page.get_attribute(f"{node('/blade_host_A/msg')} > .value", "title") is None


def test_expired_totals_are_shown_with_their_sources(state_server, page):
    open_state(page, f"{state_server.url}/state")
    totals = node("/_expired_totals")
    assert page.get_attribute(f"{totals} > .key", "class") == "key totals"
    page.click(f"{node('/_expired_totals/jobs/*')} > button.toggle")
    done = f"{node('/_expired_totals/jobs/*/done')} > .value"
    assert page.inner_text(done) == "3"
    assert page.get_attribute(done, "title") == (
        "counter: 3 from 1 source\norchestrator: 3 (+3 −0)"
    )


def test_intents_show_each_resolution_in_its_colour(state_server, page):
    open_state(page, f"{state_server.url}/state")
    rows = page.eval_on_selector_all(
        "#intent-table tbody tr",
        """rows => rows.map(r => {
            const badge = r.querySelector('td.resolution .badge');
            return [r.dataset.intent, r.cells[1].textContent, r.cells[2].textContent,
                    r.querySelector('td.resolution').dataset.resolution,
                    getComputedStyle(badge).getPropertyValue('--c').trim()];
        })""",
    )
    c = palette.RESOLUTION
    assert rows == [
        ["i-1", "blade_host_A", "—", "no_answer", c["no_answer"]],
        ["i-2", "blade_host_B", "blade_host_B", "answered", c["answered"]],
        [
            "i-3",
            "blade_host_C",
            "scraper_host_1 (scraper)",
            "started_no_data",
            c["started_no_data"],
        ],
        [
            "i-4",
            "blade_host_D",
            "scraper_host_2 (scraper), spotter_host_1 (spotter)",
            "receiving",
            c["receiving"],
        ],
    ]
    assert (c["no_answer"], c["answered"], c["receiving"]) == ("#dc2626", "#f59e0b", "#16a34a")


def test_a_posted_error_appears_in_the_report(state_server, page):
    open_state(page, f"{state_server.url}/state")
    assert page.locator("#error-table tbody tr").count() == 1
    seq = post(
        state_server,
        {"source": "spotter_host_9", "level": "error", "spotter_9": {"feed": {"error": "lost"}}},
    )
    wait_seq(page, seq)
    row = page.locator("#error-table tbody tr", has_text="spotter_host_9")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[:2] == ["spotter_host_9", "spotter_9.feed"]
    assert cells[4:] == ["1", "error", '{"error":"lost"}']
    assert page.inner_text("#state-tables h2 >> nth=1") == "2 errors"


def test_the_tree_follows_merge_patches_without_a_reload(fresh_server, page):
    server = fresh_server  # requested first: it outlives the page and its stream
    # The seed's own example: two shards deep-merged.
    post(server, {"source": "blade_host_A", "1": {"foo": "bar"}})
    post(server, {"source": "blade_host_A", "2": "bar", "1": {"something": "merged"}})
    open_state(page, f"{server.url}/state")
    assert page.eval_on_selector("#state-tree", TREE) == {
        "1": {"foo": "bar", "something": "merged"},
        "2": "bar",
    }
    page.evaluate("window.stillHere = true")

    seq = post(server, {"source": "s", "1": {"foo": "baz"}, "3": {"<b>x</b>": "<i>y</i>"}})
    wait_seq(page, seq)
    assert page.eval_on_selector("#state-tree", TREE) == {
        "1": {"foo": "baz", "something": "merged"},
        "2": "bar",
        "3": {"<b>x</b>": "<i>y</i>"},
    }
    assert "changed" in page.get_attribute(node("/1/foo"), "class")
    assert "changed" in page.get_attribute(node("/3"), "class")
    assert page.locator("#state-tree b, #state-tree i").count() == 0  # text, never HTML

    seq = post(server, {"source": "s", "1": {"foo": None}, "2": None})
    wait_seq(page, seq)
    assert page.eval_on_selector("#state-tree", TREE) == {
        "1": {"something": "merged"},
        "3": {"<b>x</b>": "<i>y</i>"},
    }
    assert page.inner_text(f"{node('/1')} > .summary") == "{1 key}"
    assert page.evaluate("window.stillHere") is True


def test_a_subtree_page_follows_its_key_until_it_appears(fresh_server, page):
    server = fresh_server  # requested first: it outlives the page and its stream
    response = page.goto(f"{server.url}/state?path=fleet.blade_1")
    assert response.status == 404
    page.wait_for_function("document.getElementById('state-tree').dataset.state === 'ready'")
    assert "There is no key fleet.blade_1 in the state" in page.inner_text("#state-missing")
    seq = post(server, {"source": "b", "fleet": {"blade_1": {"load": 0.5}, "blade_2": 1}})
    wait_seq(page, seq)
    assert page.eval_on_selector("#state-tree", TREE) == {"load": 0.5}
    assert page.locator("#state-missing").count() == 0
    # The page itself answered 404, which Chromium logs; nothing else may be in the console.
    page.console.errors.remove(
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    )
