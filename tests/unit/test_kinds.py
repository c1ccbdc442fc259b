"""Each kind's attributes are the same whichever format the event arrived in."""

from __future__ import annotations

import orjson
import pytest

from tests.fleet import incident, ping, task
from watchkeeper.events import kinds
from watchkeeper.events.decode import decode_events

TS = "2024-05-01 10:00:00.000"


def one(item: dict) -> tuple[str, dict]:
    (event,) = decode_events(orjson.dumps([item]), "application/json")
    return event.kind, event.attrs


@pytest.mark.parametrize(
    ("seed000", "generic"),
    [
        (
            task(42, TS, "Running", producer=3, agent=777),
            {"kind": "task.status", "task": 42, "status": "Running", "producer": 3, "agent": 777},
        ),
        (
            ping(777, TS, "idle", "waiting for next task", "dock-4"),
            {
                "kind": "component.state",
                "type": "agent",
                "id": 777,
                "state": "idle",
                "message": "waiting for next task",
                "loc": "dock-4",
            },
        ),
        (
            incident(777, TS, 42, message="lost", last_state="await_path"),
            {
                "kind": "incident",
                "agent": 777,
                "task": 42,
                "message": "lost",
                "last_state": "await_path",
                "subtask": 1,
                "subtasks_left": 2,
                "current_loc": "location-code",
                "target_loc": "target-location-code",
                "pings": {"idle": 0, "recover": 0, "await_path": 5},
            },
        ),
    ],
    ids=["task.status", "component.state", "incident"],
)
def test_both_formats_give_a_kind_the_same_attributes(seed000: dict, generic: dict) -> None:
    assert one(seed000) == one(generic)
    assert one(generic)[0] == generic["kind"]


def test_a_task_status_is_lowercased_into_the_vocabulary() -> None:
    attrs = kinds.task_status("t-1", "ABORTED")
    assert attrs["status"] in kinds.ABORTED and attrs["status"] in kinds.TERMINAL
    assert kinds.WAITING.isdisjoint(kinds.TERMINAL)
    assert kinds.UNSUCCESSFUL == kinds.FAILED | kinds.ABORTED
