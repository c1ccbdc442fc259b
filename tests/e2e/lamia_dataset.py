"""The fixed Lamia data the job-group pages are tested and photographed with.

Sent through ``/api/v0`` as Lamia's jobs send it (so the groups view folds real requests):

- ``walk``: the task of ``examples/lamia.sh`` and its events, in the same order (without the
  final delete). ``tstArray1`` (10 jobs, no threshold) has jobs 0 and 1 at 40 and 90 percent
  and job 2 FAILED: 13%; ``tstArray2`` (10 jobs, 8 needed) has jobs 0 to 7 DONE: 100% and
  enough; ``someJob1`` is DONE: 100%. The group is at (13 + 100 + 100) / 3 = 71%.
- ``slurm-sim``: an array of 5 numbered 1 to 5 as Slurm does, 3 of them DONE: 60%.
- ``calib-2024-05``: a larger task for the screenshots, its 150 jobs in every lifecycle class
  (and HTCondor's ``HELD``, a class of its own), picked by a seeded generator.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

HOST = "submit01"
TIME = 1714557600  # 2024-05-01T10:00:00Z

WALK = {
    "processes": {"tstArray1": 10, "tstArray2": [10, 8], "someJob1": None},
    "tags": ["testing", "one", "two"],
    "username": "crank",
    "comment": "curl walk-through",
    "config": "some cfg here",
    "_meta": {"host": HOST, "time": TIME},
}

#: ``(process, class, index, extra fields)`` of the walk-through, in its order.
WALK_EVENTS: list[tuple[str, str, int | None, dict[str, Any]]] = [
    ("tstArray2", "SUBMITTED", 3, {}),
    ("tstArray2", "STARTED", 3, {"payload": "arbitrary data here"}),
    ("tstArray2", "BEAT", 3, {}),
    ("someJob1", "STARTED", None, {}),
    ("someJob1", "BEAT", None, {}),
    ("someJob1", "DONE", None, {}),
    ("tstArray1", "STARTED", 0, {}),
    ("tstArray1", "PROGRESS", 0, {"progress": 40}),
    ("tstArray1", "PROGRESS", 1, {"payload": {"histogram": "h1"}, "progress": 90}),
    ("tstArray1", "FAILED", 2, {"payload": "segfault"}),
    *[("tstArray2", "DONE", i, {}) for i in range(8)],
]

#: What the pages must show for the data set: group progress, process progress, and the cells
#: of each process's grid.
EXPECTED = {
    "walk": {
        "progress": "71%",
        "processes": {"tstArray1": "13%", "tstArray2": "100%", "someJob1": "100%"},
        "cells": {"tstArray1": 10, "tstArray2": 10, "someJob1": 1},
        "reported": {"tstArray1": 3, "tstArray2": 8, "someJob1": 1},
    },
    "slurm-sim": {
        "progress": "60%",
        "processes": {"sim": "60%"},
        "cells": {"sim": 5},
        "reported": {"sim": 3},
    },
}
#: Newest first, as the list shows them.
NAMES = ["calib-2024-05", "slurm-sim", "walk"]


class Lamia:
    """A Lamia job's requests to one server."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=f"{url}/api/v0", timeout=30)

    def create(self, task: str, body: dict[str, Any]) -> None:
        r = self.http.post(f"/{task}", json=body)
        assert r.status_code == 201, r.text

    def event(
        self, task: str, proc: str, event_class: str, index: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        params = {} if index is None else {"arrayIndex": index}
        body = {"eventClass": event_class, "_meta": {"host": extra.pop("host", "wn07")}, **extra}
        r = self.http.post(f"/{task}/{proc}/event", params=params, json=body)
        assert r.status_code == 201, r.text
        return r.json()


def feed_walk(lamia: Lamia) -> None:
    lamia.create("walk", WALK)
    for proc, event_class, index, extra in WALK_EVENTS:
        lamia.event("walk", proc, event_class, index, **extra)


def feed(url: str) -> None:
    """Every group of the data set, oldest first."""
    lamia = Lamia(url)
    feed_walk(lamia)

    lamia.create(
        "slurm-sim",
        {"processes": {"sim": 5}, "tags": ["testing", "slurm"], "username": "ana"},
    )
    for index in (1, 5, 3):
        lamia.event("slurm-sim", "sim", "STARTED", index)
        lamia.event("slurm-sim", "sim", "DONE", index)

    lamia.create(
        "calib-2024-05",
        {
            "processes": {
                "reco": [150, 140],
                "merge": None,
                "entries": {"nJobs": 6, "threshold": 1_000_000},
            },
            "tags": ["calibration", "production"],
            "username": "mira",
            "comment": "May calibration pass",
            "config": {"geometry": "v7", "runs": [4101, 4188], "calib": "2024-05"},
            "_meta": {"host": HOST, "time": TIME + 600},
        },
    )
    rng = random.Random(7)
    lives = [
        ["SUBMITTED"],
        ["SUBMITTED", "STARTED"],
        ["STARTED", "BEAT"],
        ["STARTED", "PROGRESS"],
        ["STARTED", "DONE"],
        ["STARTED", "DONE"],
        ["STARTED", "DONE"],
        ["STARTED", "FAILED"],
        ["STARTED", "TERMINATED"],
        ["SUBMITTED", "HELD"],
    ]
    for index in range(150):
        if rng.random() < 0.12:
            continue  # not reported yet
        for event_class in rng.choice(lives):
            lamia.event("calib-2024-05", "reco", event_class, index, host=f"wn{index % 12:02d}")
    lamia.event("calib-2024-05", "merge", "SUBMITTED")
    for index, amount in enumerate([180_000, 165_000, 210_000, 90_000]):
        lamia.event("calib-2024-05", "entries", "PROGRESS", index, progress=amount)
