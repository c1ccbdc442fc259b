"""Progress and ``enough``: each case of the seed-003 table, for arrays and solitary jobs."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from tests.lamia_jobs import create, post


def process(client, task: str, proc: str) -> tuple[float, bool]:
    p = client.get(f"/api/v0/{task}/{proc}").json()
    return p["progress"], p["enough"]


def task_state(client, task: str) -> tuple[float, bool]:
    t = client.get(f"/api/v0/{task}").json()
    return t["progress"], t["enough"]


def answers(client, task: str, proc: str, steps) -> list[tuple[float, bool]]:
    """Post ``(class, index, fields)`` steps; the (progress, enough) each POST answered."""
    out = []
    for event_class, index, fields in steps:
        r = post(client, task, proc, event_class, index, **fields)
        out.append((r["progress"], r["enough"]))
    return out


@pytest.fixture(params=["thread", "process"])
def client(db_url: str, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """Progress answers come from the view's fold; the writer process carries them back."""
    with make_client(db_url, writer=request.param) as c:
        yield c


def test_no_threshold_no_progress_counts_done_jobs(client):
    create(client, "t", {"arr": 4, "solo": None})
    steps = [
        ("STARTED", 0, {}),
        ("DONE", 0, {}),
        ("DONE", 1, {}),
        ("BEAT", 2, {}),
        ("DONE", 2, {}),
        ("FAILED", 1, {}),  # the latest class counts: job 1 is no longer DONE
        ("DONE", 1, {}),
        ("DONE", 3, {}),
    ]
    assert answers(client, "t", "arr", steps) == [
        (0.0, False),
        (25.0, False),
        (50.0, False),
        (50.0, False),
        (75.0, False),
        (50.0, False),
        (75.0, False),
        (100.0, True),
    ]
    assert process(client, "t", "arr") == (100.0, True)
    assert answers(client, "t", "solo", [("STARTED", None, {}), ("DONE", None, {})]) == [
        (0.0, False),
        (100.0, True),
    ]
    assert task_state(client, "t") == (100.0, True)


def test_no_threshold_with_progress_averages_job_percentages(client):
    create(client, "t", {"arr": 4, "solo": None})
    steps = [
        ("PROGRESS", 0, {"progress": 50}),
        ("PROGRESS", 1, {"progress": 100}),
        ("PROGRESS", 2, {"progress": 30}),
        ("BEAT", 0, {}),  # carries no progress: job 0 keeps 50
        ("PROGRESS", 0, {"progress": 80}),  # the latest value replaces the earlier one
        ("STARTED", 3, {"payload": '{"progress" : 90}'}),  # opaque: carries no progress
        ("PROGRESS", 3, {"progress": "90"}),  # a shell script's quoted number
    ]
    assert answers(client, "t", "arr", steps) == [
        (12.5, False),  # 50 / (4 x 100) x 100
        (37.5, False),
        (45.0, False),  # (50 + 100 + 30) / 4
        (45.0, False),
        (52.5, False),  # (80 + 100 + 30) / 4
        (52.5, False),
        (75.0, False),  # (80 + 100 + 30 + 90) / 4
    ]
    done = [("DONE", i, {}) for i in range(4)]
    assert answers(client, "t", "arr", done)[-1] == (75.0, True)  # every job DONE
    # A solitary job: its value, as it is, even past 100.
    solo = [("PROGRESS", None, {"progress": 40}), ("PROGRESS", None, {"progress": 130})]
    assert answers(client, "t", "solo", solo) == [(40.0, False), (130.0, False)]
    assert task_state(client, "t") == (102.5, False)  # mean of 75 and 130


def test_threshold_without_progress_counts_the_done_jobs_needed(client):
    create(client, "t", {"list": [10, 8], "dict": {"nJobs": 5, "threshold": 2}})
    steps = [("DONE", i, {}) for i in range(9)]
    assert answers(client, "t", "list", steps) == [
        (12.5, False),  # 1 / 8 x 100
        (25.0, False),
        (37.5, False),
        (50.0, False),
        (62.5, False),
        (75.0, False),
        (87.5, False),
        (100.0, True),  # the 8th DONE: the jobs left may stop
        (112.5, True),  # a job that did not react in time: reported as it is
    ]
    assert process(client, "t", "list") == (112.5, True)
    assert task_state(client, "t") == (56.25, False)  # the other process has nothing yet
    assert answers(client, "t", "dict", [("DONE", 4, {}), ("DONE", 0, {})]) == [
        (50.0, False),
        (100.0, True),
    ]
    assert task_state(client, "t") == (106.25, True)
    every = client.get("/api/v0/t").json()["processes"]
    assert [(p["name"], p["doneJobs"], p["enough"]) for p in every] == [
        ("list", 9, True),
        ("dict", 2, True),
    ]


def test_threshold_with_progress_sums_absolute_amounts(client):
    create(
        client,
        "t",
        {"entries": {"nJobs": 3, "threshold": 1000}, "solo": {"threshold": 200}},
    )
    steps = [
        ("PROGRESS", 0, {"progress": 250}),
        ("PROGRESS", 1, {"progress": 300}),
        ("DONE", 1, {}),  # DONE does not count once values are reported
        ("PROGRESS", 0, {"progress": 400}),
        ("PROGRESS", 2, {"progress": 300}),
        ("PROGRESS", 2, {"progress": 350}),
    ]
    assert answers(client, "t", "entries", steps) == [
        (25.0, False),  # 250 / 1000 x 100
        (55.0, False),
        (55.0, False),
        (70.0, False),  # (400 + 300) / 1000 x 100
        (100.0, True),
        (105.0, True),
    ]
    solo = [("PROGRESS", None, {"progress": 50}), ("PROGRESS", None, {"progress": 250.5})]
    assert answers(client, "t", "solo", solo) == [(25.0, False), (125.25, True)]
    assert task_state(client, "t") == (115.125, True)


def test_history_points_follow_every_change(client):
    create(client, "t", {"arr": [4, 2]})
    for event_class, index in [("STARTED", 0), ("DONE", 0), ("BEAT", 1), ("DONE", 1), ("DONE", 2)]:
        post(client, "t", "arr", event_class, index)
    (proc,) = client.get("/api/v1/groups/t").json()["processes"]
    assert [(h["progress"], h["enough"]) for h in proc["history"]] == [
        (0.0, False),  # at creation
        (50.0, False),
        (100.0, True),
        (150.0, True),
    ]
    assert proc["enough_at"] == proc["history"][2]["ts"]
    limited = client.get("/api/v1/groups/t", params={"history_limit": 2}).json()
    assert [h["progress"] for h in limited["processes"][0]["history"]] == [100.0, 150.0]


def test_jobs_needed_measure_job_percentages_against_those_jobs(client):
    # [10, 8]: 8 jobs must be DONE. A job at 50 % is half of one of them (6.25 %), never
    # 50 jobs' worth (625 % and "enough", which would stop every job at once).
    create(client, "t", {"search": [10, 8]})
    assert answers(client, "t", "search", [("PROGRESS", 0, {"progress": 50})]) == [(6.25, False)]
    walk = [("STARTED", 3, {"payload": '{"progress" : 90}'})]  # Lamia's walk-through
    assert answers(client, "t", "search", walk) == [(6.25, False)]
    p = client.get("/api/v0/t/search").json()
    assert (p["thresholdProgress"], p["fTolerance"], p["enough"]) == (None, 8, False)


def expected(shape: dict, history: list[tuple[str, int | None, float | None]]) -> tuple:
    """The seed's table, recomputed from every event so far (not folded one by one): each
    job's latest class and latest value, then the row of the table the process falls in."""
    latest_class: dict[int | None, str] = {}
    latest_value: dict[int | None, float] = {}
    for event_class, index, value in history:
        latest_class[index] = event_class
        if value is not None:
            latest_value[index] = value
    done = sum(1 for c in latest_class.values() if c == "DONE")
    amount, needed = shape.get("threshold"), shape.get("needed")
    if amount is not None:  # rows 2,4 and 5: measured against the amount
        measure = sum(latest_value.values()) if latest_value else done
        return round(100 * measure / amount, 6), measure >= amount
    jobs = needed or shape.get("nJobs") or 1  # rows 1 and 3: job percentages
    percent = sum(latest_value.values()) / (jobs * 100) * 100 if latest_value else 100 * done / jobs
    return round(percent, 6), done >= jobs


SHAPES = {
    "arr": ({"nJobs": 5}, 5),
    "solo": ({}, None),
    "needed": ({"nJobs": 6, "needed": 3}, [6, 3]),
    "amount": ({"nJobs": 4, "threshold": 700}, {"nJobs": 4, "threshold": 700}),
    "solo_amount": ({"threshold": 150}, {"threshold": 150}),
}


@pytest.mark.parametrize("valued", [False, True], ids=["DONE-only", "with-values"])
def test_every_row_of_the_table_against_an_independent_count(client, valued):

    rng = random.Random(1003)
    create(client, "t", {name: spec for name, (_, spec) in SHAPES.items()})
    histories: dict[str, list] = {name: [] for name in SHAPES}
    for _ in range(60):
        name = rng.choice(list(SHAPES))
        shape = SHAPES[name][0]
        index = rng.randrange(shape["nJobs"]) if "nJobs" in shape else None
        event_class = rng.choice(["STARTED", "BEAT", "PROGRESS", "DONE", "DONE", "FAILED"])
        value = None
        if valued and event_class == "PROGRESS":
            value = rng.choice([0, 10, 25, 50, 90, 100, 120, 300])
        fields = {} if value is None else {"progress": value}
        answer = post(client, "t", name, event_class, index, **fields)
        histories[name].append((event_class, index, value))
        want = expected(shape, histories[name])
        assert (answer["progress"], answer["enough"]) == pytest.approx(want), (name, histories)
    for name, (shape, _) in SHAPES.items():
        assert process(client, "t", name) == pytest.approx(expected(shape, histories[name]))
