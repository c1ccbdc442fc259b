"""Reading tasks: pages of tasks, one task with its history, counts by status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.kinds import (
    TERMINAL,
    UNSUCCESSFUL,
    WAITING,
)
from watchkeeper.events.timefmt import iso
from watchkeeper.views.tasks.tables import task_history, tasks

SORTABLE = {
    "updated_at": tasks.c.updated_at,
    "created_at": tasks.c.created_at,
    "id": tasks.c.id,
    "status": tasks.c.status,
}


@dataclass(slots=True)
class TaskFilter:
    status: list[str] | None = None
    agent: str | None = None
    producer: str | None = None
    since: float | None = None
    until: float | None = None
    search: str | None = None


def _where(f: TaskFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if f.status:
        where.append(tasks.c.status.in_(f.status))
    if f.agent is not None:
        where.append(tasks.c.agent == f.agent)
    if f.producer is not None:
        where.append(tasks.c.producer == f.producer)
    if f.since is not None:
        where.append(tasks.c.updated_at >= f.since)
    if f.until is not None:
        where.append(tasks.c.created_at <= f.until)
    if f.search:
        where.append(tasks.c.id.contains(f.search, autoescape=True))
    return where


def list_tasks(
    conn: sa.Connection,
    f: TaskFilter,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    limit: int = 100,
    after: tuple[Any, str] | None = None,
) -> tuple[list[dict[str, Any]], int, tuple[Any, str] | None]:
    """One page of tasks, the total matching, and the keyset cursor of the next page."""
    column = SORTABLE[sort]
    where = _where(f)
    total = conn.execute(sa.select(sa.func.count()).select_from(tasks).where(*where)).scalar_one()
    query = sa.select(tasks).where(*where)
    if after is not None:
        key = sa.tuple_(column, tasks.c.id)
        query = query.where(key < sa.tuple_(*after) if descending else key > sa.tuple_(*after))
    order = (column.desc(), tasks.c.id.desc()) if descending else (column.asc(), tasks.c.id.asc())
    rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
    page = [task_summary(row._asdict()) for row in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]._asdict()
        cursor = (last[sort], last["id"])
    return page, total, cursor


def task_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "level": row["level"],
        "producer": row["producer"],
        "agent": row["agent"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "events": row["events"],
    }


def get_task(conn: sa.Connection, task_id: str) -> dict[str, Any] | None:
    """A task with its history and its time queued vs running (incidents are added by the API)."""
    row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
    if row is None:
        return None
    points = conn.execute(
        sa.select(
            task_history.c.status, task_history.c.ts, task_history.c.level, task_history.c.agent
        )
        .where(task_history.c.task_id == task_id)
        .order_by(task_history.c.ts, task_history.c.seq)
    ).all()
    out = task_summary(row._asdict())
    out["history"] = [
        {"status": p.status, "ts": iso(p.ts), "level": p.level, "agent": p.agent} for p in points
    ]
    queued, running = durations([(p.status, p.ts) for p in points])
    out["queued_s"] = queued
    out["running_s"] = running
    return out


def durations(points: Sequence[tuple[str, float]]) -> tuple[float, float]:
    """Seconds spent waiting and running, from time-ordered status points.

    The span of a status lasts until the next point; a task that has not ended is counted up to
    its last point (the live figure is the dashboard's business).
    """
    queued = running = 0.0
    for (status, start), (_next, end) in zip(points, points[1:], strict=False):
        if status in TERMINAL:
            continue
        if status in WAITING:
            queued += end - start
        else:
            running += end - start
    return round(queued, 3), round(running, 3)


def abort_points(conn: sa.Connection, task_id: str) -> list[tuple[str | None, float]]:
    """``(agent, ts)`` of every point where the task failed or was aborted, the agent as known
    at that point: the incidents linked to the task are found from these."""
    h = task_history
    query = sa.select(h.c.agent, h.c.ts).where(h.c.task_id == task_id, h.c.status.in_(UNSUCCESSFUL))
    return [(agent, ts) for agent, ts in conn.execute(query)]


def status_counts(conn: sa.Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(tasks.c.status, sa.func.count()).group_by(tasks.c.status))
    return {status: count for status, count in rows}
