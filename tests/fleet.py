"""A small, fixed fleet history in the seed-000 formats, with what the views must make of it."""

from __future__ import annotations


def task(task_id, ts, status, *, producer=None, agent=None, level="info", **extra):
    item = {"id_task": task_id, "datetime": ts, "level": level, "status": status}
    if producer is not None:
        item["created_by"] = producer
    if agent is not None:
        item["assigned_to"] = agent
    item.update(extra)
    return item


def ping(agent, ts, state, message="", loc=""):
    return {
        "level": "info",
        "id_agent": agent,
        "datetime": ts,
        "message": message,
        "state": state,
        "curent_loc": loc,
    }


def incident(
    agent,
    ts,
    task_id,
    message="something went wrong (e.g. network problem)",
    last_state="await_path",
):
    return {
        "level": "error",
        "id_agent": agent,
        "datetime": ts,
        "message": message,
        "last_state": last_state,
        "task": {"id_current_task": task_id, "current_subtask": 1, "subtasks_left": 2},
        "curent_loc": "location-code",
        "target_loc": "target-location-code",
        "pings": {"idle": 0, "recover": 0, "await_path": 5},
    }


D = "2024-05-01 10:00:"

#: Task 1 finishes on agent 777; task 2 is aborted on agent 778 after an incident;
#: task 3 is still running on 777. Agents switch states along the way.
HISTORY = [
    task(1, D + "00.000", "created", producer=0),
    task(2, D + "01.000", "created", producer=1),
    ping(777, D + "00.50", "idle", "waiting for next task"),
    ping(778, D + "00.50", "idle", "waiting for next task"),
    task(1, D + "02.000", "submitted", producer=0, agent=777),
    ping(777, D + "02.10", "await_path", "waiting for a path", "A01"),
    task(2, D + "03.000", "submitted", producer=1, agent=778),
    ping(778, D + "03.10", "await_path", "waiting for a path", "B02"),
    ping(777, D + "04.00", "moving", "moving", "A01"),
    task(1, D + "10.000", "finished", agent=777),
    ping(777, D + "10.10", "idle", "waiting for next task", "A05"),
    incident(778, D + "11.50", 2),
    task(2, D + "12.000", "aborted", agent=778, level="error"),
    ping(778, D + "12.10", "recover", "recovering", "B02"),
    task(3, D + "13.000", "created", producer=0),
    task(3, D + "14.000", "submitted", producer=0, agent=777),
]
WINDOW = {"since": "2024-05-01T09:00:00Z", "until": "2024-05-01T11:00:00Z"}
