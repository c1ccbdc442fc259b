"""How task statuses fold into the tasks view's tables, and what deleting a Lamia task takes
out of them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.kinds import (
    TASK_STATUS,
)
from watchkeeper.events.lamia import TASK_DELETED
from watchkeeper.store import bulk, fold
from watchkeeper.store.fold import Row, Rows
from watchkeeper.views.base import runs_between
from watchkeeper.views.tasks.tables import task_history, tasks

_LATEST = "CASE WHEN excluded.updated_at >= {{t}}.updated_at THEN excluded.{0} ELSE {{t}}.{0} END"
#: How a batch's summary of a task folds into the stored row (SQL sees the old row as {t}).
_TASK_FOLD = {
    "status": _LATEST.format("status"),
    "level": _LATEST.format("level"),
    "producer": "COALESCE(excluded.producer, {t}.producer)",
    "agent": "COALESCE(excluded.agent, {t}.agent)",
    "created_at": bulk.keep_min("created_at"),
    "updated_at": bulk.keep_max("updated_at"),
    "last_seq": "excluded.last_seq",
    "events": bulk.add("events"),
}


class TasksView:
    name = "tasks"
    kinds = frozenset({TASK_STATUS, TASK_DELETED})
    tables = (tasks, task_history)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        # Deleting a Lamia task removes its jobs; deletes are rare, so the events between two
        # of them are folded together, each run before the delete that follows it.
        for run, deleted in runs_between(events, TASK_DELETED):
            self._fold(conn, run)
            if deleted is not None:
                delete_jobs(conn, deleted.attrs["task"])

    def _fold(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        # Summarise the batch per task in memory, then fold each summary into its row with one
        # upsert: the current status is the one with the latest event time (ties: latest seq).
        if not events:
            return
        summary = Rows(conn, tasks, ("id",))
        history: list[Row] = []
        unknown: set[str] = set()
        for event in events:
            attrs = event.attrs
            task_id = attrs["task"]
            row = summary.get(task_id)
            if row is None:
                row = summary.add(
                    task_id,
                    {
                        "status": attrs["status"],
                        "level": event.level,
                        "producer": attrs["producer"],
                        "agent": attrs["agent"],
                        "created_at": event.ts,
                        "updated_at": event.ts,
                        "last_seq": event.seq,
                        "events": 0,
                    },
                )
            else:
                if attrs["producer"] is not None:
                    row["producer"] = attrs["producer"]
                if attrs["agent"] is not None:
                    row["agent"] = attrs["agent"]
                if event.ts < row["created_at"]:
                    row["created_at"] = event.ts
                if event.ts >= row["updated_at"]:
                    row["updated_at"] = event.ts
                    row["status"] = attrs["status"]
                    row["level"] = event.level
                row["last_seq"] = event.seq
            row["events"] += 1
            # A point is attributed to the task's agent and producer as known at that moment.
            history.append(
                {
                    "seq": event.seq,
                    "task_id": task_id,
                    "status": attrs["status"],
                    "ts": event.ts,
                    "level": event.level,
                    "agent": row["agent"],
                    "producer": row["producer"],
                }
            )
            if row["agent"] is None or row["producer"] is None:
                unknown.add(task_id)
        if unknown:
            _fill_from_stored(conn, unknown, history)
        fold.insert(conn, task_history, history)
        summary.upsert(_TASK_FOLD)


def _fill_from_stored(conn: sa.Connection, task_ids: set[str], history: list[Row]) -> None:
    """Attribute points to the agent and producer the stored task has, where the batch did not
    name them."""
    stored = Rows(conn, tasks, ("id",))
    stored.load(task_ids)
    for point in history:
        row = stored.get(point["task_id"])
        if row is not None:
            if point["agent"] is None:
                point["agent"] = row["agent"]
            if point["producer"] is None:
                point["producer"] = row["producer"]


def delete_jobs(conn: sa.Connection, group: str) -> None:
    """Remove the jobs of the Lamia task ``group`` (tasks ``<group>/...`` it produced, see
    :func:`watchkeeper.events.lamia.group_of`) with their status points; the log keeps them."""
    jobs = sa.and_(tasks.c.producer == group, tasks.c.id.startswith(group + "/", autoescape=True))
    ids = sa.select(tasks.c.id).where(jobs).scalar_subquery()
    conn.execute(task_history.delete().where(task_history.c.task_id.in_(ids)))
    conn.execute(tasks.delete().where(jobs))


VIEW = TasksView()
