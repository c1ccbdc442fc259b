"""The dashboard's pages and chart paging, rendered by the server on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.fleet import HISTORY, WINDOW, incident
from watchkeeper.events.timefmt import parse_time

W = urlencode(WINDOW)


@pytest.fixture
def fed(client):
    assert client.post("/api/v1/events", json=HISTORY).status_code == 202
    return client


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ['data-status="aborted">1<', 'data-status="finished">1<', 'data-stat="tasks">3<']),
        (f"/waterfall?{W}", ['<option value="777">777</option>', 'data-chart="waterfall"']),
        (f"/tasks?{W}", ["3 tasks", 'href="/tasks/2"']),
        ("/tasks/2", ["Task 2", "await_path", "location-code"]),
        (f"/aborted?{W}", ['data-chart="aborted"']),
        (f"/processed?{W}&sort=aborted", ['data-sort="aborted"', "Aborted ↑"]),
        (f"/components?{W}", ["Now <span", 'href="/agents/777"', "recovering"]),
        ("/agents", ["2 agents", 'href="/agents/778"']),
        ("/agents/778", ["Agent 778", 'href="/tasks/2"', "something went wrong"]),
        (f"/incidents?{W}", ["1 incident<", "something went wrong"]),
        ("/partials/overview-stats", ['data-stat="agents">2<']),
        (f"/partials/tasks?{W}&agent=778", ['id="task-list" data-live', "1 task<", 'data-row="2"']),
        ("/partials/agents?state=recover", ['id="agent-list"', "1 agent<", 'data-row="778"']),
        (f"/partials/incidents?{W}", ['id="incident-groups" data-live', "1 incident<"]),
        ("/login", ['name="token"']),
    ],
)
def test_pages_render(fed, path, expected):
    response = fed.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for text in expected:
        assert text in response.text


def test_every_nav_entry_is_a_page(fed):
    from watchkeeper.ui.pages import NAV

    assert [e.path for e in NAV] == [
        "/",
        "/waterfall",
        "/tasks",
        "/aborted",
        "/processed",
        "/components",
        "/agents",
        "/incidents",
        "/logs",
        "/groups",
        "/series",
        "/state",
        "/commands",
        "/kpis",
        "/inputs",
    ]
    for entry in NAV:
        assert fed.get(entry.path).status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/tasks/999", 404, "task &#39;999&#39; not found"),
        ("/agents/nobody", 404, "agent &#39;nobody&#39; not found"),
        ("/waterfall?since=whenever", 422, "invalid since"),
        (f"/incidents?{W}&until=2024-01-01", 422, "since is after until"),
        ("/processed?sort=speed", 422, "invalid sort"),
        ("/tasks?cursor=!!", 422, "invalid cursor"),
        ("/partials/tasks?cursor=!!", 422, "invalid cursor"),
        (f"/partials/incidents?{W}&until=2024-01-01", 422, "since is after until"),
    ],
)
def test_bad_requests_are_error_pages(fed, path, status, text):
    response = fed.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text


def test_live_parts_link_to_their_page_not_to_themselves(fed):
    for path in (f"/partials/incidents?{W}&q=wrong", "/partials/tasks?since=-100000d"):
        text = fed.get(path).text
        assert "/partials" not in text
    text = fed.get(f"/partials/incidents?{W}&q=wrong").text
    assert 'href="/incidents?since=' in text and "q=wrong" in text


def config(text: str) -> dict:
    """The JSON the pages hand to wk.js."""
    start = text.index('<script id="wk-config" type="application/json">')
    body = text[text.index(">", start) + 1 : text.index("</script>", start)]
    return json.loads(body)


@pytest.mark.parametrize("path", ["/waterfall", "/aborted", "/processed", "/components"])
def test_chart_pages_without_a_window_fit_the_latest_activity(fed, path):
    window = config(fed.get(path).text)["window"]
    # The latest activity of HISTORY: task 3 submitted at 10:00:14, agent 778's last state
    # at 10:00:12.1; the window looks an hour back from it.
    latest = {"/components": "2024-05-01T10:00:12.100Z"}.get(path, "2024-05-01T10:00:14Z")
    assert window["latest"] == pytest.approx(parse_time(latest))
    assert window["start"] == pytest.approx(window["latest"] - 3600)
    assert window["since"] == "" and window["live"] is True
    # An explicit window is kept as it is, and so is any window of a page that does not fit.
    window = config(fed.get(f"{path}?since=-6h").text)["window"]
    assert window["latest"] is None and window["since"] == "-6h"
    window = config(fed.get("/tasks").text)["window"]
    assert window["latest"] is None and window["since"] == "-1h"


def test_an_empty_server_fits_the_last_hour(client):
    window = config(client.get("/waterfall").text)["window"]
    assert window["latest"] == pytest.approx(window["end"]) and window["since"] == ""
    assert window["end"] - window["start"] == pytest.approx(3600)


def test_reported_text_is_escaped(client):
    hostile = incident(5, "2024-05-01 10:00:00.00", 9, message="<script>alert(1)</script>")
    client.post("/api/v1/events", json=hostile)
    for path in ("/agents/5", f"/incidents?{W}"):
        text = client.get(path).text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # The overview embeds the latest events as JSON: it must not close its script element.
    text = client.get("/").text
    assert "<script>alert(1)" not in text and "\\u003cscript\\u003ealert(1)" in text


def test_waterfall_pages_tasks_newest_first(fed):
    page = fed.get("/api/v1/charts/waterfall", params={**WINDOW, "rows": 1, "offset": 1})
    assert page.headers["X-Total-Count"] == "3"
    assert [(r["task"], r["status"]) for r in page.json()] == [
        ("2", "created"),
        ("2", "submitted"),
        ("2", "aborted"),
    ]
    everything = fed.get("/api/v1/charts/waterfall", params=WINDOW).json()
    assert [r["task"] for r in everything] == ["3", "3", "2", "2", "2", "1", "1", "1"]
    # A window that only the still-running task 3 overlaps.
    later = {"since": "2024-05-01T12:00:00Z", "until": "2024-05-01T13:00:00Z"}
    late = fed.get("/api/v1/charts/waterfall", params=later)
    assert late.headers["X-Total-Count"] == "1"
    assert [(r["task"], r["status"], r["end"]) for r in late.json()] == [("3", "submitted", None)]


def test_processed_per_agent_sorts_and_pages(fed):
    def agents(**params):
        r = fed.get("/api/v1/charts/processed-per-agent", params={**WINDOW, **params})
        assert r.headers["X-Total-Count"] == "2"
        return [row["agent"] for row in r.json()]

    assert agents() == ["777", "778"]
    assert agents(sort="-agent") == ["778", "777"]
    assert agents(sort="-aborted") == ["778", "777"]
    assert agents(sort="-finished") == ["777", "778"]
    assert agents(sort="-total") == ["777", "778"]  # a tie keeps the agents' order
    assert agents(sort="aborted", limit=1, offset=1) == ["778"]
    bad = fed.get("/api/v1/charts/processed-per-agent", params={"sort": "speed"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["path"] == "query.sort"


def test_component_status_pages_lanes_and_merges_short_spans(fed):
    def spans(**params):
        r = fed.get("/api/v1/charts/component-status", params={**WINDOW, **params})
        assert r.headers["X-Total-Count"] == "2"
        return [(s["component"], s["state"], s.get("merged")) for s in r.json()]

    # Both agents went silent after their last ping (the fleet's day is long past): their
    # last state is an instant, followed by the silence.
    assert spans(lanes=1, offset=1) == [
        ("778", "idle", None),
        ("778", "await_path", None),
        ("778", "recover", None),
        ("778", "no signal", None),
    ]
    # 777: idle 1.6 s, await_path 1.9 s, moving 6.1 s, idle at its last ping, then silence. At
    # a 12-second resolution the first four make one span, of the state that held longest.
    assert spans(lanes=1, resolution=12) == [("777", "moving", 4), ("777", "no signal", None)]
    bad = fed.get("/api/v1/charts/component-status", params={"resolution": "-1"})
    assert bad.status_code == 422


def test_received_since_counts_the_events_of_the_last_minute(client):
    import time

    from watchkeeper.store import eventlog

    engine = client.app.state.read_engine
    with engine.connect() as conn:
        assert eventlog.received_since(conn, 0) == 0
    before = time.time()
    client.post("/api/v1/events", json=HISTORY[:5])
    client.post("/api/v1/events", json=HISTORY[5:7])
    with engine.connect() as conn:
        assert eventlog.received_since(conn, before - 60) == 7
        assert eventlog.received_since(conn, time.time() + 1) == 0
    assert 'data-stat="rate">0.1<' in client.get("/").text  # 7 events / 60 s


def test_incidents_around_many_aborts_match_one_task_at_a_time(client):
    from watchkeeper.views import incidents

    client.post(
        "/api/v1/events",
        json=[
            incident(1, "2024-05-01 10:00:00.00", 10),  # names task 10
            incident(1, "2024-05-01 10:01:00.00", None),  # agent 1, 30 s before the abort of 11
            incident(1, "2024-05-01 10:01:40.00", None),  # agent 1, after the abort of 11
            incident(1, "2024-05-01 11:00:00.00", None),  # agent 1, far from everything
            incident(2, "2024-05-01 10:00:30.00", 12),  # names 12, near the abort of 11
        ],
    )
    pairs = [("10", "1", 1714557600.0), ("11", "1", 1714557690.0), ("12", None, 1714557630.0)]
    with client.app.state.read_engine.connect() as conn:
        batched = incidents.around(conn, pairs, 120.0)
        single = [incidents.for_task(conn, t, [(a, ts)], 120.0) for t, a, ts in pairs]
    assert batched == single
    assert [[(i["ts"][11:19], i["link"]["text"]) for i in found] for found in batched] == [
        [("10:00:00", "named the task")],
        [("10:01:00", "same agent, 30 s before")],
        [("10:00:30", "named the task")],
    ]
