"""Pure helpers behind the dashboard: span merging, natural order, colours, formatting."""

from __future__ import annotations

import pytest

from watchkeeper.ui import palette
from watchkeeper.ui.access import safe_next
from watchkeeper.ui.render import duration, when
from watchkeeper.views.tasks import natural_key
from watchkeeper.views.timeline import coalesce


def test_coalesce_keeps_every_span_without_a_resolution():
    spans = [("idle", 0.0, 1.0), ("moving", 1.0, 1.5), ("idle", 1.5, None)]
    assert coalesce(spans, 0, until=10) == [(s, a, b, 1) for s, a, b in spans]


def test_coalesce_merges_runs_of_short_spans_into_their_longest_state():
    spans = [
        ("idle", 0.0, 100.0),  # long: kept
        ("moving", 100.0, 103.0),
        ("await_path", 103.0, 104.0),
        ("moving", 104.0, 107.0),  # the run reaches 7 s: still short
        ("idle", 107.0, 109.0),
        ("moving", 109.0, 111.0),  # run of 11 s >= 10: flushed here
        ("recover", 111.0, 112.0),  # a run of one short span stays itself
        ("idle", 112.0, None),  # open until 200: long
    ]
    assert coalesce(spans, 10, until=200) == [
        ("idle", 0.0, 100.0, 1),
        ("moving", 100.0, 111.0, 5),
        ("recover", 111.0, 112.0, 1),
        ("idle", 112.0, None, 1),
    ]


def test_coalesce_joins_neighbouring_merged_runs_of_one_state():
    spans = [("a", float(t), float(t + 1)) for t in range(0, 6)]
    spans[1] = ("b", 1.0, 2.0)
    spans[4] = ("b", 4.0, 5.0)
    # Runs [0, 3) and [3, 6) both end up "a": one span standing for all six.
    assert coalesce(spans, 3, until=6) == [("a", 0.0, 6.0, 6)]


def test_natural_order():
    names = ["agent-10", "agent-9", "778", "99", "lift", "agent-100"]
    assert sorted(names, key=natural_key) == [
        "99",
        "778",
        "agent-9",
        "agent-10",
        "agent-100",
        "lift",
    ]


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("status", "created", palette.GREY),
        ("status", "submitted", "#60a5fa"),
        ("status", "running", palette.BLUE),
        ("status", "something-new", palette.BLUE),
        ("status", "finished", palette.GREEN),
        ("status", "done", palette.GREEN),
        ("status", "aborted", palette.RED),
        ("status", "timeout", palette.RED),
        ("state", "idle", palette.GREY),
        ("state", "await_path", "#f59e0b"),
        ("liveness", "online", palette.GREEN),
        ("resolution", "no_answer", palette.RED),
        ("resolution", "answered", "#f59e0b"),
        ("resolution", "started_no_data", "#ea580c"),
        ("resolution", "receiving", palette.GREEN),
        ("resolution", "something-new", palette.GREY),
        ("state", None, palette.GREY),
    ],
)
def test_colours(kind, name, expected):
    assert palette.colour(kind, name) == expected


def test_unplanned_states_get_a_stable_colour():
    assert palette.name_hash("charging") == palette.name_hash("charging")
    assert palette.colour("state", "charging") in palette.EXTRA
    assert palette.name_hash("ab") == 97 * 31 + 98


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250 ms"), (5, "5.0 s"), (90, "1m 30s"), (7260, "2h 01m"), (200000, "2d 7h")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_when_is_utc():
    assert when("2024-05-01T10:00:02.500Z") == "2024-05-01 10:00:02"
    assert when(None) == "—"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("/agents?x=1", "/agents?x=1"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_only_local_paths_follow_a_login(value, safe):
    assert safe_next(value) == safe
