"""The live state page and its tables, rendered by the server on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from watchkeeper.ui import palette

SHARDS = [
    {"source": "orchestrator", "intents": {"i-1": {"host": "blade_host_A"}}},
    {"source": "orchestrator", "intents": {"i-2": {"host": "blade_host_B"}}},
    {"source": "blade_host_B", "intents": {"i-2": {"resolution": {"blade_host_B": "ok"}}}},
    {"source": "scraper_host_1", "intents": {"i-3": {"resolution": {"scraper_host_1": 1}}}},
    {
        "source": "spotter_host_1",
        "intents": {"i-4": {"resolution": {"scraper_host_1": 1, "spotter_host_1": 1}}},
    },
    {"source": "blade_host_A", "level": "error", "blade_host_A": {"scraper": {"error": "timeout"}}},
]


@pytest.fixture
def fed(client):
    response = client.post("/api/v1/state", json=SHARDS)
    assert response.status_code == 202, response.text
    return client


def intent_rows(text: str) -> list[tuple[str, str]]:
    """(intent id, resolution) of each row of the intents table, in order."""
    return re.findall(r'<tr data-intent="([^"]+)">.*?data-resolution="([^"]+)"', text, re.S)


def test_state_page_renders_the_tree_holder_and_the_tables(fed):
    response = fed.get("/state")
    assert response.status_code == 200
    text = response.text
    assert '<a href="/state" class="active" aria-current="page">Live state</a>' in text
    assert 'id="state-tree" class="json-tree" data-pointer="" data-totals="_expired_totals"' in text
    assert "/static/js/state.js" in text
    assert "4 intents<" in text and "1 error<" in text
    assert intent_rows(text) == [
        ("i-1", "no_answer"),
        ("i-2", "answered"),
        ("i-3", "started_no_data"),
        ("i-4", "receiving"),
    ]
    red = palette.RESOLUTION["no_answer"]
    assert f'<span class="badge" style="--c: {red}">no_answer</span>' in text
    assert 'spotter_host_1 <span class="muted">(spotter)</span>' in text
    link = '<a href="/state?path=/blade_host_A/scraper"><code>blade_host_A.scraper</code></a>'
    assert link in text
    assert "{&#34;error&#34;:&#34;timeout&#34;}" in text


def test_the_tables_partial_is_the_same_tables(fed):
    response = fed.get("/partials/state-tables")
    assert response.status_code == 200
    assert "<html" not in response.text
    assert [status for _, status in intent_rows(response.text)] == [
        "no_answer",
        "answered",
        "started_no_data",
        "receiving",
    ]
    assert "blade_host_A.scraper" in response.text


def test_a_subtree_page_follows_its_path(fed):
    for path in ("intents.i-2", "/intents/i-2"):
        response = fed.get("/state", params={"path": path})
        assert response.status_code == 200
        assert 'data-pointer="/intents/i-2"' in response.text
        assert 'value="intents.i-2"' in response.text
        assert '<a href="/state?path=/intents">intents</a>' in response.text


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("nowhere.at_all", 404, "There is no key <code>nowhere.at_all</code> in the state"),
        ("intents.i-1.host.deeper", 404, "There is no key <code>intents.i-1.host.deeper</code>"),
        ("a..b", 422, "invalid path: empty key in a dotted path"),
        ("/a/~2", 422, "invalid path: ~ must be followed by 0 or 1"),
    ],
)
def test_a_missing_or_bad_path_says_so(fed, path, status, text):
    response = fed.get("/state", params={"path": path})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text


def test_keys_and_values_are_escaped(client):
    hostile = "<script>alert(1)</script>"
    shards = [
        {"source": "<b>src</b>", "intents": {hostile: {"host": hostile}}},
        {"source": "<b>src</b>", "level": "error", "x": {hostile: {"error": hostile}}},
    ]
    assert client.post("/api/v1/state", json=shards).status_code == 202
    for url in ("/state", "/partials/state-tables", f"/state?path=/x/{hostile}"):
        text = client.get(url).text
        assert hostile not in text and "<b>src</b>" not in text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, url
    text = client.get("/partials/state-tables").text
    assert "&lt;b&gt;src&lt;/b&gt;" in text
    # The path of a link is a URL-encoded JSON Pointer ("/" in a key is "~1"), never raw HTML.
    assert 'href="/state?path=/intents/%3Cscript%3Ealert%281%29%3C~1script%3E"' in text


def test_an_empty_state_renders(client):
    response = client.get("/state")
    assert response.status_code == 200
    assert "0 intents<" in response.text and "No error reported." in response.text
