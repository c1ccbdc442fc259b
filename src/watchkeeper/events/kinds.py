"""The kinds of event the built-in views read, the attributes each carries, and the status
vocabulary of tasks.

Every translator builds a kind's attributes with its constructor here (``task_status``,
``component_state``, ``incident``), so the views read the same fields (``event.attrs``)
whichever format the event arrived in. A status is kept lowercased, as the vocabulary is.
The Lamia kinds are named in :mod:`watchkeeper.events.lamia`.
"""

from __future__ import annotations

from typing import Any

#: A status change of a task (or a Lamia job): the tasks view's points and the agents' counts.
TASK_STATUS = "task.status"
#: The state of a component (an agent's ping, a lift's state): the components view.
COMPONENT_STATE = "component.state"
#: What an agent reported going wrong: the incidents view.
INCIDENT = "incident"
#: A shard of the live state: the state view.
STATE_SHARD = "state.shard"
#: One message a program wrote, as a node agent forwards it: the logs view.
LOG_RECORD = "log.record"

#: Statuses during which a task waits for an agent; time in them counts as queued.
WAITING = frozenset({"created", "queued", "pending", "new", "scheduled"})
#: Statuses that end a task.
FINISHED = frozenset({"finished", "done", "succeeded", "success", "completed"})
#: Statuses of a task that ran and failed.
FAILED = frozenset({"failed", "error"})
#: Statuses of a task stopped before it could end: cancelled, killed, timed out.
ABORTED = frozenset({"aborted", "cancelled", "canceled", "killed", "terminated", "timeout"})
#: The ends without success, which incidents are linked to.
UNSUCCESSFUL = FAILED | ABORTED
TERMINAL = FINISHED | UNSUCCESSFUL


def task_status(
    task: str, status: str, *, producer: str | None = None, agent: str | None = None
) -> dict[str, Any]:
    return {"task": task, "status": status.lower(), "producer": producer, "agent": agent}


def component_state(
    ctype: str, cid: str, state: str, *, message: str | None = None, loc: str | None = None
) -> dict[str, Any]:
    return {"type": ctype, "id": cid, "state": state, "message": message, "loc": loc}


def incident(
    agent: str,
    *,
    message: str | None = None,
    last_state: str | None = None,
    task: str | None = None,
    subtask: int | None = None,
    subtasks_left: int | None = None,
    current_loc: str | None = None,
    target_loc: str | None = None,
    pings: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "agent": agent,
        "message": message,
        "last_state": last_state,
        "task": task,
        "subtask": subtask,
        "subtasks_left": subtasks_left,
        "current_loc": current_loc,
        "target_loc": target_loc,
        "pings": pings,
    }


def log_record(
    agent: str,
    *,
    job: str | None,
    domain: str | None,
    name: str | None,
    epoch: float,
    rid: int | None,
    log_level: int,
    data: str,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "agent": agent,
        "job": job,
        "domain": domain,
        "name": name,
        "epoch": epoch,
        "id": rid,
        "log_level": log_level,
        "data": data,
        "error": error,
    }
