"""A log holding what older versions stored and every read failed on: times no date can show."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.events import Event, lamia
from watchkeeper.store.writer import commit_batches
from watchkeeper.views import ALL_VIEWS

#: Times no date can show: an epoch in milliseconds read as seconds (year 56302), 1e300, and
#: year 1 at +14:00.
MS_AS_SECONDS = 1_714_557_600_000.0
YEAR_1 = -62_135_647_200.0


def poisoned_events() -> list[Event]:
    def ev(kind: str, ts: float, attrs: dict, subject: str | None = None) -> Event:
        return Event(kind, ts, "error", "agent:ag1", subject, attrs, {"sent": ts}, None, ts)

    job = lamia.job_event(
        "t1", "solo", None, b'{"eventClass": "STARTED"}', client_ip=None, now=1e300
    )
    return [
        ev(
            "task.status",
            MS_AS_SECONDS,
            {"task": "p1", "status": "aborted", "producer": "pr", "agent": "ag1"},
            "task:p1",
        ),
        ev(
            "component.state",
            1e300,
            {"type": "agent", "id": "ag1", "state": "idle", "message": None, "loc": None},
        ),
        ev(
            "incident",
            YEAR_1,
            {
                "agent": "ag1",
                "message": "stuck",
                "last_state": "idle",
                "task": "p1",
                "subtask": 1,
                "subtasks_left": 2,
                "current_loc": None,
                "target_loc": None,
                "pings": {"idle": 3},
            },
            "task:p1",
        ),
        ev("state.shard", 1e300, {"shard": {"poison": {"n": {"$inc": 1}}}, "ttl": None}),
        ev("x", 1e300, {}),
        *job,
    ]


def store_poison(engine: sa.Engine) -> list[int]:
    """Store what an older version stored, straight into the log and the views (the Lamia
    task ``t1`` must exist); returns the seqs of the poisoned events."""
    (result,), _ = commit_batches(engine, ALL_VIEWS, [poisoned_events()])
    assert not isinstance(result, Exception), result
    assert result.first_seq is not None and result.last_seq is not None
    return list(range(result.first_seq, result.last_seq + 1))


READS = [
    "/api/v1/events?limit=10000",
    "/api/v1/tasks",
    "/api/v1/tasks/p1",
    "/api/v1/tasks/t1/solo",
    "/api/v1/agents",
    "/api/v1/agents/ag1",
    "/api/v1/components",
    "/api/v1/incidents",
    "/api/v1/incidents/groups",
    "/api/v1/groups",
    "/api/v1/groups/t1",
    "/api/v1/state",
    "/api/v1/state/counters",
    "/api/v1/state/errors",
    "/api/v1/charts/waterfall?since=0",
    "/api/v1/charts/aborted?since=0",
    "/api/v1/charts/processed-per-agent?since=0",
    "/api/v1/charts/component-status?since=0",
    "/api/v0",
    "/api/v0/t1",
    "/api/v0/t1/solo",
    "/api/v0/t1/@all",
    "/api/v0/t1/solo/event",
    "/",
    "/tasks",
    "/tasks/p1",
    "/tasks/t1/solo",
    "/waterfall?since=0",
    "/aborted?since=0",
    "/processed?since=0",
    "/agents",
    "/agents/ag1",
    "/components?since=0",
    "/incidents?since=0",
    "/groups",
    "/groups/t1",
    "/state",
    "/partials/overview-stats",
    "/partials/groups/t1",
    "/partials/state-tables",
]
