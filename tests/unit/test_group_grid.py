"""The job-slot grid of the group page: which indices it draws, how it pages, how it reads."""

from __future__ import annotations

import pytest

from watchkeeper.ui import palette
from watchkeeper.ui.pages.groups import GRID, Cell, grid_of, index_range
from watchkeeper.ui.render import percent


@pytest.mark.parametrize(
    ("n_jobs", "first", "last", "expected"),
    [
        (10, None, None, (0, 9)),  # nothing reported yet: 0-based
        (10, 0, 7, (0, 9)),
        (10, 3, 3, (0, 9)),
        (5, 1, 5, (1, 5)),  # index n and no 0: Slurm's 1 to n
        (5, 5, 5, (1, 5)),
        (5, 0, 5, (0, 5)),  # both 0 and n: every reported index gets a cell
        (1, 1, 1, (1, 1)),
    ],
)
def test_index_range(n_jobs, first, last, expected):
    assert index_range(n_jobs, first, last) == expected


def proc(n_jobs: int | None, indices: list[int | None]) -> dict:
    slots = [slot(i) for i in indices]
    numbered = [i for i in indices if i is not None]
    return {
        "name": "p",
        "n_jobs": n_jobs,
        "first_index": min(numbered) if numbered else None,
        "last_index": max(numbered) if numbered else None,
        "slots": slots,
    }


def slot(index: int | None, **changes) -> dict:
    return {
        "index": index,
        "last_event_class": "DONE",
        "value": None,
        "host": None,
        "last_event_at": "2024-05-01T10:00:00.000Z",
        "events": 1,
        "stale": False,
        **changes,
    }


def test_a_grid_places_slots_at_their_index():
    grid = grid_of("t", proc(10, [0, 7]), None)
    assert [c.index for c in grid.cells] == list(range(10))
    assert [c.event_class for c in grid.cells] == ["DONE"] + [None] * 6 + ["DONE", None, None]
    assert (grid.previous, grid.next, grid.size) == (None, None, 10)


def test_a_solitary_job_is_one_cell():
    assert [(c.index, c.event_class) for c in grid_of("t", proc(None, []), None).cells] == [
        (None, None)
    ]
    assert [c.event_class for c in grid_of("t", proc(None, [None]), None).cells] == ["DONE"]


def test_a_large_array_pages():
    big = proc(2 * GRID + 10, [0, GRID, 2 * GRID + 10])  # 0 to n accepted: n + 1 indices
    first = grid_of("t", big, None)
    assert (first.cells[0].index, first.cells[-1].index) == (0, GRID - 1)
    assert (first.previous, first.next, first.size) == (None, GRID, 2 * GRID + 11)
    second = grid_of("t", big, GRID)
    assert (second.previous, second.next) == (0, 2 * GRID)
    last = grid_of("t", big, 2 * GRID)
    assert [c.index for c in last.cells] == list(range(2 * GRID, 2 * GRID + 11))
    assert (last.previous, last.next) == (GRID, None)
    assert last.cells[-1].event_class == "DONE"
    # Past the end: the last full page.
    beyond = grid_of("t", big, 10 * GRID)
    assert (beyond.start, beyond.cells[-1].index, len(beyond.cells)) == (
        GRID + 11,
        2 * GRID + 10,
        GRID,
    )


def test_a_cell_tells_its_job():
    cell = Cell("t", "arr", 3, slot(3, last_event_class="BEAT", value=42, host="wn1", stale=True))
    assert cell.tooltip == (
        "t/arr[3]\nclass BEAT · progress 42 · host wn1\n"
        "last event 2024-05-01 10:00:00 UTC · 1 event\nstale: running, but silent for too long"
    )
    assert cell.colour == palette.EVENT_CLASS["BEAT"]
    assert Cell("t", "solo", None, None).tooltip == "t/solo\nno event yet"


def test_class_colours_ignore_case_and_pick_others_by_name():
    assert palette.colour("class", "done") == palette.colour("class", "DONE") == palette.GREEN
    assert palette.colour("class", "HELD") in palette.EXTRA
    assert palette.colour("class", "HELD") == palette.colour("class", "HELD")
    assert palette.colour("class", None) == palette.GREY


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.0, "0%"),
        (12.5, "12.5%"),
        (13.0, "13%"),
        (100 / 3, "33.3%"),
        (112.5, "112.5%"),
    ],
)
def test_percent(value, text):
    assert percent(value) == text
