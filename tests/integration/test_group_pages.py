"""The job-group pages (``/groups``, ``/groups/<name>`` and their live parts), rendered by the
server on SQLite and PostgreSQL from Lamia requests."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.conftest import make_client
from tests.e2e.lamia_dataset import WALK, WALK_EVENTS
from tests.lamia_jobs import create, post
from watchkeeper.ui import palette
from watchkeeper.ui.pages import groups as groups_page


def feed_walk(client) -> None:
    """The task of ``examples/lamia.sh`` and its events (see ``tests/e2e/lamia_dataset.py``)."""
    create(client, "walk", **WALK)
    for proc, event_class, index, extra in WALK_EVENTS:
        post(client, "walk", proc, event_class, index, **extra)


def rows(html: str, table: str) -> list[str]:
    """The rows of a table's first ``tbody`` ... every ``tbody`` of a grouped table."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr\b.*?</tr>", body, re.S)


def grid(html: str, proc: str) -> list[dict[str, str]]:
    """The cells of one process's grid: index, class, colour, stale, tooltip."""
    body = html.split(f'<ol class="slot-grid" data-proc="{proc}"', 1)[1].split("</ol>", 1)[0]
    cells = []
    for attrs in re.findall(r"<li (.*?)>", body, re.S):
        cell = dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))
        cell["stale"] = " data-stale" in attrs
        cells.append(cell)
    return cells


def progress(html: str) -> list[str]:
    """Every progress bar's text, in page order."""
    return re.findall(r'<span class="progress-text">([^<]*)</span>', html)


def test_list_shows_groups_with_progress_per_group_and_process(client):
    feed_walk(client)
    create(client, "other", {"solo": None}, tags=["prod"], username="ana")
    response = client.get("/groups")
    assert response.status_code == 200
    html = response.text
    assert "2 groups" in html
    groups = re.findall(r'<tbody class="group" data-group="([^"]*)"', html)
    assert groups == ["other", "walk"]  # newest first
    walk = html.split('data-group="walk"', 1)[1]
    assert '<a href="/groups/walk">walk</a>' in walk
    assert '<a class="tag" href="/groups?tag=testing">testing</a>' in walk
    assert '<a href="/groups?user=crank">crank</a>' in walk
    assert "curl walk-through" in walk
    cells = re.findall(r'<td class="num">(\d+)</td>', walk.split("</tr>", 1)[0])
    assert cells == ["3", "21", "18"]  # processes, jobs (10 + 10 + 1), events
    # The group's bar, then one per process: (13 + 100 + 100) / 3 = 71.
    assert progress(walk) == ["71%", "13%", "100%", "100%"]
    assert 'data-progress="71.0"' in walk and 'style="width: 71.0%"' in walk
    assert re.findall(r'<li data-proc="([^"]*)"', walk) == ["tstArray1", "tstArray2", "someJob1"]
    assert 'data-enough="false"' in walk and 'data-stale="0"' in walk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["c", "b", "a"]),
        ("tag=x", ["b", "a"]),
        ("tag=x,y", ["b"]),
        ("tag=x&tag=y", ["b"]),
        ("tag=z", []),
        ("user=ann", ["a"]),
        ("q=c", ["c"]),
        ("q=%25", []),  # a literal %, not a wildcard
        ("tag=x&user=ann&q=a", ["a"]),
    ],
)
def test_list_filters_by_tag_user_and_name(client, query, expected):
    create(client, "a", {"p": None}, tags=["x"], username="ann")
    create(client, "b", {"p": None}, tags=["x", "y"], username="bob")
    create(client, "c", {"p": None}, tags=["y"])
    html = client.get(f"/groups?{query}").text
    assert re.findall(r'<tbody class="group" data-group="([^"]*)"', html) == expected
    if not expected:
        assert "No group matches." in html


def test_list_is_paged_on_the_server(client, monkeypatch):
    monkeypatch.setattr(groups_page, "PAGE", 2)
    for name in ("g1", "g2", "g3", "g4", "g5"):
        create(client, name, {"p": None}, tags=["t", "u"])

    def page(query: str) -> tuple[list[str], str, dict[str, str]]:
        html = client.get(f"/groups?{query}").text
        names = re.findall(r'<tbody class="group" data-group="([^"]*)"', html)
        pager = html.split('id="group-pager"', 1)[1].split("</nav>", 1)[0]
        links = dict(
            (rel, href.replace("&amp;", "&"))
            for rel, href in re.findall(r'rel="(\w+)" href="([^"]*)"', pager)
        )
        return names, re.search(r'<span class="muted">([^<]*)</span>', pager)[1], links

    names, text, links = page("tag=t&tag=u")
    assert (names, text) == (["g5", "g4"], "1–2 of 5 groups")
    # Repeated tags travel as one comma-separated tag, so the next page keeps both.
    assert parse_qs(urlsplit(links["next"]).query) == {"tag": ["t,u"], "offset": ["2"]}
    names, text, links = page("tag=t,u&offset=4")
    assert (names, text) == (["g1"], "5–5 of 5 groups")
    assert set(links) == {"prev"}
    assert parse_qs(urlsplit(links["prev"]).query) == {"tag": ["t,u"], "offset": ["2"]}
    assert client.get("/groups?offset=-1").status_code == 422


def test_group_page_has_processes_grids_history_and_events(client):
    feed_walk(client)
    response = client.get("/groups/walk")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Group walk</h1>" in html
    assert "<code>some cfg here</code>" in html
    assert '<a class="tag" href="/groups?tag=two">two</a>' in html
    processes = rows(html, "process-table")[1:]
    assert [re.search(r'data-proc="([^"]*)"', r)[1] for r in processes] == [
        "tstArray1",
        "tstArray2",
        "someJob1",
    ]
    assert [progress(r) for r in processes] == [["13%"], ["100%"], ["100%"]]
    cells = [re.findall(r'<td class="num"[^>]*>([^<]*)</td>', r) for r in processes]
    # Jobs, threshold, done, reported.
    assert cells == [["10", "—", "0", "3"], ["10", "8", "8", "8"], ["1", "—", "1", "1"]]
    assert [re.findall(r'data-enough="(\w+)"', r) for r in processes] == [
        ["false"],
        ["true"],
        ["true"],
    ]

    one = grid(html, "tstArray1")
    assert [c["data-index"] for c in one] == [str(i) for i in range(10)]
    assert [c["data-class"] for c in one] == ["PROGRESS", "PROGRESS", "FAILED"] + [""] * 7
    assert one[2]["style"] == f"--c: {palette.EVENT_CLASS['FAILED']}"
    assert one[1]["title"].split("\n")[:2] == [
        "walk/tstArray1[1]",
        "class PROGRESS · progress 90 · host —",
    ]
    assert one[5]["title"] == "walk/tstArray1[5]\nno event yet"
    two = grid(html, "tstArray2")
    assert [c["data-class"] for c in two] == ["DONE"] * 8 + ["", ""]
    solo = grid(html, "someJob1")
    assert [(c["data-index"], c["data-class"]) for c in solo] == [("", "DONE")]
    assert 'href="/tasks/walk/tstArray2%5B3%5D"' in html  # a slot opens its job's task

    history = html.split('<script id="group-history" type="application/json" data-live>', 1)[1]
    data = orjson.loads(history.split("</script>", 1)[0])
    assert [p["name"] for p in data["processes"]] == ["tstArray1", "tstArray2", "someJob1"]
    assert [pt["progress"] for pt in data["processes"][0]["history"]] == [0.0, 4.0, 13.0]
    assert [pt["progress"] for pt in data["processes"][1]["history"]] == [
        0.0,
        12.5,
        25.0,
        37.5,
        50.0,
        62.5,
        75.0,
        87.5,
        100.0,
    ]

    events = rows(html, "event-table")[1:]
    assert len(events) == 18  # every event, newest first
    assert "tstArray2[7]" in events[0] and "tstArray2[3]" in events[-1]
    assert "segfault" in events[8] and "{&#34;histogram&#34;:&#34;h1&#34;}" in events[9]


def test_live_parts_are_the_pages_parts(client):
    feed_walk(client)
    part = client.get("/partials/groups/walk")
    assert part.status_code == 200
    assert "<html" not in part.text
    ids = re.findall(r'id="([\w-]+)"[^>]*data-live', part.text)
    assert ids == [
        "group-summary",
        "group-processes",
        "group-slots",
        "group-events",
        "group-history",
    ]
    page = client.get("/groups/walk").text
    for name in ids:
        assert f'id="{name}"' in page
    post(client, "walk", "tstArray1", "DONE", 5)
    assert [c["data-class"] for c in grid(client.get("/partials/groups/walk").text, "tstArray1")][
        5
    ] == "DONE"
    listed = client.get("/partials/groups?tag=one").text
    assert re.findall(r'id="([\w-]+)"[^>]*data-live', listed) == ["group-list"]
    assert 'data-group="walk"' in listed


def test_one_based_and_large_arrays(client):
    create(client, "slurm", {"sim": 5, "big": 2500})
    for index in (1, 5, 3):
        post(client, "slurm", "sim", "DONE", index)
    for index in (0, 999, 1000, 2500):
        post(client, "slurm", "big", "STARTED", index)
    html = client.get("/groups/slurm").text
    # Index 5 of 5 and no index 0: numbered 1 to 5, as Slurm does.
    assert [c["data-index"] for c in grid(html, "sim")] == ["1", "2", "3", "4", "5"]
    # 0 to 2500 are accepted: 2501 cells, a page of 1000 at a time.
    big = grid(html, "big")
    assert len(big) == 1000 and big[0]["data-index"] == "0" and big[-1]["data-index"] == "999"
    assert [c["data-index"] for c in big if c["data-class"]] == ["0", "999"]
    assert "jobs 0–999 of 0–2500" in html
    assert 'href="/groups/slurm?proc=big&amp;first=1000#slots-2"' in html

    html = client.get("/groups/slurm?proc=big&first=2000").text
    big = grid(html, "big")
    assert (big[0]["data-index"], big[-1]["data-index"], len(big)) == ("2000", "2500", 501)
    assert [c["data-index"] for c in big if c["data-class"]] == ["2500"]
    assert len(grid(html, "sim")) == 5  # the other grids stay on their first page
    # Past the end: the last page, read from where it starts.
    html = client.get("/groups/slurm?proc=big&first=99999").text
    big = grid(html, "big")
    assert (big[0]["data-index"], big[-1]["data-index"]) == ("1501", "2500")
    assert [c["data-index"] for c in big if c["data-class"]] == ["2500"]


def test_stale_jobs_are_flagged(db_url):
    with make_client(db_url, lamia_stale_after=0.0) as client:
        create(client, "g", {"arr": 3})
        post(client, "g", "arr", "STARTED", 0)
        post(client, "g", "arr", "DONE", 1)
        listed = client.get("/groups").text
        assert 'data-stale="1"' in listed and "1 stale" in listed
        cells = grid(client.get("/groups/g").text, "arr")
        assert [c["stale"] for c in cells] == [True, False, False]
        assert cells[0]["class"] == "slot stale"
        assert cells[0]["title"].endswith("stale: running, but silent for too long")


def test_reported_text_is_escaped(client):
    evil = "<script>alert(1)</script>"
    create(
        client,
        "x<b>",
        {"p<i>": 2},
        tags=["<em>t</em>"],
        username="<u>ann</u>",
        comment=evil,
        config={"k": evil},
    )
    post(client, "x<b>", "p<i>", "<img src=x>", 0, payload=evil, _meta={"host": "<h>"})
    for path in ("/groups", "/groups/x%3Cb%3E", "/partials/groups/x%3Cb%3E"):
        response = client.get(path)
        assert response.status_code == 200, path
        text = response.text
        for raw in (evil, "<b>", "<i>", "<em>", "<u>", "<img", "<h>"):
            assert raw not in text, (path, raw)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = client.get("/groups/x%3Cb%3E").text
    assert "x&lt;b&gt;" in page and "&lt;img src=x&gt;" in page
    # The history is embedded as JSON: it must not close its script element.
    assert '"name":"x\\u003cb\\u003e"' in page


@pytest.mark.parametrize("path", ["/groups/nope", "/partials/groups/nope"])
def test_a_missing_group_is_a_404_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "group &#39;nope&#39; not found" in response.text


def test_a_deleted_group_is_gone(client):
    feed_walk(client)
    assert client.delete("/api/v0/walk").status_code == 200
    assert client.get("/groups/walk").status_code == 404
    assert 'data-group="walk"' not in client.get("/groups").text


def test_the_api_tells_how_many_slots_and_which_indices(client):
    create(client, "g", {"arr": 5, "solo": None, "idle": 3})
    for index in (5, 2, 3):
        post(client, "g", "arr", "STARTED", index)
    post(client, "g", "solo", "DONE")
    arr, solo, idle = client.get("/api/v1/groups/g").json()["processes"]
    assert (arr["slot_count"], arr["first_index"], arr["last_index"]) == (3, 2, 5)
    assert [s["index"] for s in arr["slots"]] == [2, 3, 5]
    assert arr["status_counts"] == {"running": 3}
    assert (solo["slot_count"], solo["first_index"], solo["last_index"]) == (1, None, None)
    assert (idle["slot_count"], idle["first_index"], idle["slots"]) == (0, None, [])
