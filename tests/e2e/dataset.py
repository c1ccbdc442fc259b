"""The fixed data the dashboard is tested and photographed with.

Two parts in two time ranges, so the exact counts stay easy to read:

- ``HISTORY`` from :mod:`tests.fleet` (2024-05-01 around 10:00): three tasks, two agents, one
  incident. Every chart count the tests assert comes from it, inside ``WINDOW``.
- A busier fleet (eight agents, 2024-05-02 08:00 to 08:20) simulated by ``watchkeeper.demo``
  with a fixed seed and clock: what the screenshots show, inside ``BUSY_WINDOW``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.fleet import HISTORY, WINDOW
from watchkeeper.demo import Agent, Fleet

__all__ = ["BUSY_WINDOW", "HISTORY", "WINDOW", "busy_fleet"]

BUSY_START = datetime(2024, 5, 2, 8, 0, tzinfo=UTC).timestamp()
BUSY_MINUTES = 20
BUSY_WINDOW = {"since": "2024-05-02T08:00:00Z", "until": "2024-05-02T08:20:00Z"}


def busy_fleet() -> list[dict[str, Any]]:
    """A deterministic simulated fleet: same seed, same clock, same messages every run."""
    fleet = Fleet(agents=8, producers=3, abort_rate=0.15, seed=11)
    fleet.agents = [Agent(2001 + i) for i in range(8)]
    fleet.next_task = 5000
    out: list[dict[str, Any]] = []
    step = 2.0
    for n in range(int(BUSY_MINUTES * 60 / step)):
        out.extend(fleet.step(BUSY_START + n * step))
    return out
