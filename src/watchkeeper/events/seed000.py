"""The three seed-000 fleet messages: task status, agent ping, agent incident.

They are accepted verbatim, field names included (``curent_loc`` is the fleet's spelling), and
recognised by shape: ``id_task`` makes a task status; ``id_agent`` with incident context
(``last_state``, ``task``, ``target_loc`` or ``pings``) an incident; ``id_agent`` with ``state``
a ping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchkeeper.events import kinds
from watchkeeper.events.fields import MAX_INT, Fields, int_reason
from watchkeeper.events.model import Event, Issue

_INCIDENT_KEYS = ("last_state", "task", "target_loc", "pings")


def recognise(item: Mapping[str, Any]) -> str | None:
    """Which seed-000 message ``item`` is, or ``None`` if it is none of them."""
    if "id_task" in item:
        return "task"
    if "id_agent" in item:
        if any(key in item for key in _INCIDENT_KEYS):
            return "incident"
        return "ping"
    return None


def translate(
    item: Mapping[str, Any], shape: str, prefix: str, now: float, issues: list[Issue]
) -> Event | None:
    f = Fields(item, prefix, issues)
    before = len(issues)
    ts = f.time("datetime", default=now)
    level = f.level()
    if shape == "task":
        task = f.ident("id_task", required=True)
        status = f.text("status", required=True, max_len=64)
        producer = f.ident("created_by")
        agent = f.ident("assigned_to")
        if len(issues) > before:
            return None
        attrs = kinds.task_status(task, status, producer=producer, agent=agent)
        return Event(kinds.TASK_STATUS, ts, level, None, f"task:{task}", attrs, item)

    agent = f.ident("id_agent", required=True)
    message = f.text("message")
    location = f.text("curent_loc", max_len=500)
    if shape == "ping":
        state = f.text("state", required=True, max_len=64)
        if len(issues) > before:
            return None
        attrs = kinds.component_state("agent", agent, state, message=message, loc=location)
        return Event(kinds.COMPONENT_STATE, ts, level, f"agent:{agent}", None, attrs, item)

    last_state = f.text("last_state", max_len=64)
    target = f.text("target_loc", max_len=500)
    task_id = subtask = left = None
    task = f.mapping("task")
    if task is not None:
        tf = Fields(task, f.path("task"), issues)
        task_id = tf.ident("id_current_task")
        subtask = tf.integer("current_subtask")
        left = tf.integer("subtasks_left")
    pings = _pings(f)
    if len(issues) > before:
        return None
    attrs = kinds.incident(
        agent,
        message=message,
        last_state=last_state,
        task=task_id,
        subtask=subtask,
        subtasks_left=left,
        current_loc=location,
        target_loc=target,
        pings=pings,
    )
    subject = f"task:{task_id}" if task_id is not None else None
    return Event(kinds.INCIDENT, ts, level, f"agent:{agent}", subject, attrs, item)


def _pings(f: Fields) -> dict[str, int] | None:
    pings = f.mapping("pings")
    if pings is None:
        return None
    out: dict[str, int] = {}
    for state, count in pings.items():
        if int_reason(count) is not None or count < 0:
            f.fail(f"pings.{state}", f"expected an integer count from 0 to {MAX_INT}")
        else:
            out[str(state)] = count
    return out
