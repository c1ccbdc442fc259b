"""Progress and ``enough``: each case of the seed-003 table, for arrays and solitary jobs."""

from __future__ import annotations

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
        ("PROGRESS", 3, {"payload": '{"progress" : 90}'}),  # Lamia's own walk-through form
    ]
    assert answers(client, "t", "arr", steps) == [
        (12.5, False),  # 50 / (4 x 100) x 100
        (37.5, False),
        (45.0, False),  # (50 + 100 + 30) / 4
        (45.0, False),
        (52.5, False),  # (80 + 100 + 30) / 4
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
