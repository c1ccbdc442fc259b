"""Tasks: current status, producer, agent, status history, time queued vs running.

History is kept as status *points* (one row per status event); spans are derived from
consecutive points, so out-of-order events simply fall into place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.kinds import (
    ABORTED,
    FAILED,
    FINISHED,
    TASK_STATUS,
    TERMINAL,
    UNSUCCESSFUL,
    WAITING,
)
from watchkeeper.events.lamia import TASK_DELETED
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import chunks, load_rows

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("producer", sa.String(200)),
    sa.Column("agent", sa.String(200)),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("last_seq", BigKey, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Index("ix_tasks_status_updated", "status", "updated_at"),
    sa.Index("ix_tasks_agent", "agent"),
    sa.Index("ix_tasks_producer", "producer"),
    sa.Index("ix_tasks_updated", "updated_at"),
    sa.Index("ix_tasks_created", "created_at"),
)

task_history = sa.Table(
    "task_history",
    metadata,
    sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
    sa.Column("task_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("agent", sa.String(200)),
    sa.Column("producer", sa.String(200)),
    sa.Index("ix_task_history_task_ts", "task_id", "ts"),
    sa.Index("ix_task_history_status_ts", "status", "ts", "agent"),
)


_TASK_COLUMNS = (
    "id",
    "status",
    "level",
    "producer",
    "agent",
    "created_at",
    "updated_at",
    "last_seq",
    "events",
)
_HISTORY_COLUMNS = ("seq", "task_id", "status", "ts", "level", "agent", "producer")
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
        segment: list[Event] = []
        for event in events:
            if event.kind == TASK_DELETED:
                self._fold(conn, segment)
                segment = []
                delete_jobs(conn, event.attrs["task"])
            else:
                segment.append(event)
        self._fold(conn, segment)

    def _fold(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        # Summarise the batch per task in memory, then fold each summary into its row with one
        # upsert: the current status is the one with the latest event time (ties: latest seq).
        if not events:
            return
        summary: dict[str, list[Any]] = {}
        history: list[list[Any]] = []
        unknown: set[str] = set()
        for event in events:
            attrs = event.attrs
            task_id = attrs["task"]
            row = summary.get(task_id)
            if row is None:
                row = summary[task_id] = [
                    task_id,
                    attrs["status"],
                    event.level,
                    attrs["producer"],
                    attrs["agent"],
                    event.ts,
                    event.ts,
                    event.seq,
                    0,
                ]
            else:
                if attrs["producer"] is not None:
                    row[3] = attrs["producer"]
                if attrs["agent"] is not None:
                    row[4] = attrs["agent"]
                if event.ts < row[5]:
                    row[5] = event.ts
                if event.ts >= row[6]:
                    row[6] = event.ts
                    row[1] = attrs["status"]
                    row[2] = event.level
                row[7] = event.seq
            row[8] += 1
            # A point is attributed to the task's agent and producer as known at that moment.
            history.append(
                [event.seq, task_id, attrs["status"], event.ts, event.level, row[4], row[3]]
            )
            if row[4] is None or row[3] is None:
                unknown.add(task_id)
        if unknown:
            self._fill_from_stored(conn, unknown, history)
        bulk.insert(conn, task_history, _HISTORY_COLUMNS, [tuple(h) for h in history])
        bulk.upsert(
            conn, tasks, _TASK_COLUMNS, ("id",), _TASK_FOLD, [tuple(r) for r in summary.values()]
        )

    @staticmethod
    def _fill_from_stored(
        conn: sa.Connection, task_ids: set[str], history: list[list[Any]]
    ) -> None:
        stored = {r.id: r for r in load_rows(conn, tasks, tasks.c.id, task_ids)}
        for point in history:
            row = stored.get(point[1])
            if row is not None:
                point[5] = point[5] if point[5] is not None else row.agent
                point[6] = point[6] if point[6] is not None else row.producer


def delete_jobs(conn: sa.Connection, group: str) -> None:
    """Remove the jobs of the Lamia task ``group`` (tasks ``<group>/...`` it produced, see
    :func:`watchkeeper.events.lamia.group_of`) with their status points; the log keeps them."""
    jobs = sa.and_(tasks.c.producer == group, tasks.c.id.startswith(group + "/", autoescape=True))
    ids = sa.select(tasks.c.id).where(jobs).scalar_subquery()
    conn.execute(task_history.delete().where(task_history.c.task_id.in_(ids)))
    conn.execute(tasks.delete().where(jobs))


VIEW = TasksView()


# --- queries -------------------------------------------------------------------------------

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


# --- chart data ----------------------------------------------------------------------------


def _in_window(
    since: float, until: float, agent: str | None, producer: str | None
) -> list[sa.ColumnElement[bool]]:
    """Tasks with a status span overlapping ``[since, until]``.

    A task's spans cover ``[created_at, updated_at]`` without gaps, and an unfinished task's last
    span stays open, so the test is on the task row alone (no scan of the history).
    """
    where: list[sa.ColumnElement[bool]] = [
        tasks.c.created_at <= until,
        sa.or_(tasks.c.updated_at >= since, tasks.c.status.not_in(TERMINAL)),
    ]
    if agent is not None:
        where.append(tasks.c.agent == agent)
    if producer is not None:
        where.append(tasks.c.producer == producer)
    return where


def waterfall(
    conn: sa.Connection,
    since: float,
    until: float,
    *,
    agent: str | None = None,
    producer: str | None = None,
    rows: int = 200,
    offset: int = 0,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Status spans ``{task, status, start, end, agent}`` overlapping ``[since, until]``.

    Rows are tasks, newest first, ``rows`` at a time from ``offset`` (a chart shows one page of
    rows; :func:`waterfall_total` says how many there are). A span ends at the task's next status
    point; the last span of an unfinished task has no end (``null``: drawn up to now), and a
    terminal status is a zero-length span. At most ``limit`` spans are returned.
    """
    order = (tasks.c.created_at.desc(), tasks.c.id.desc())
    page = (
        sa.select(tasks.c.id)
        .where(*_in_window(since, until, agent, producer))
        .order_by(*order)
        .limit(rows)
        .offset(offset)
    )
    ids = list(conn.execute(page).scalars())
    if not ids:
        return []
    h = task_history
    points: dict[str, list[Any]] = {task_id: [] for task_id in ids}
    for part in chunks(ids):
        query = (
            sa.select(h.c.task_id, h.c.status, h.c.ts, h.c.agent)
            .where(h.c.task_id.in_(part))
            .order_by(h.c.task_id, h.c.ts, h.c.seq)
        )
        for row in conn.execute(query):
            points[row.task_id].append(row)
    out: list[dict[str, Any]] = []
    for task_id in ids:
        series = points[task_id]
        for point, following in zip(series, [*series[1:], None], strict=True):
            end = following.ts if following is not None else None
            if end is None and point.status in TERMINAL:
                end = point.ts
            if point.ts > until or (end is not None and end < since):
                continue
            out.append(
                {
                    "task": task_id,
                    "status": point.status,
                    "start": iso(point.ts),
                    "end": iso(end),
                    "agent": point.agent,
                }
            )
            if len(out) >= limit:
                return out
    return out


def waterfall_total(
    conn: sa.Connection,
    since: float,
    until: float,
    *,
    agent: str | None = None,
    producer: str | None = None,
) -> int:
    """How many task rows the waterfall of ``[since, until]`` has."""
    query = sa.select(sa.func.count()).select_from(tasks)
    return conn.execute(query.where(*_in_window(since, until, agent, producer))).scalar_one()


def producers(conn: sa.Connection) -> list[str]:
    """Every producer that created a task, for filters."""
    query = sa.select(tasks.c.producer).where(tasks.c.producer.is_not(None)).distinct()
    return sorted(conn.execute(query).scalars(), key=natural_key)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort ``agent-9`` before ``agent-10`` and ``778`` after ``99``."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in _DIGITS.split(text)
        if part
    )


_DIGITS = re.compile(r"(\d+)")

#: How the per-agent counts may be ordered.
PROCESSED_SORTS = ("agent", "finished", "failed", "aborted", "total")


def processed_per_agent(
    conn: sa.Connection,
    since: float,
    until: float,
    *,
    sort: str = "agent",
    descending: bool = False,
) -> list[dict[str, Any]]:
    """Tasks finished, failed and aborted per agent, by the time they reached that status."""
    h = task_history
    counts = [
        sa.func.sum(sa.case((h.c.status.in_(statuses), 1), else_=0)).label(name)
        for name, statuses in (("finished", FINISHED), ("failed", FAILED), ("aborted", ABORTED))
    ]
    query = (
        sa.select(h.c.agent, *counts)
        .where(h.c.status.in_(TERMINAL), h.c.ts >= since, h.c.ts <= until, h.c.agent.is_not(None))
        .group_by(h.c.agent)
    )
    out = [
        {
            "agent": r.agent,
            "finished": int(r.finished),
            "failed": int(r.failed),
            "aborted": int(r.aborted),
        }
        for r in conn.execute(query)
    ]
    if sort == "agent":
        out.sort(key=lambda r: natural_key(r["agent"]), reverse=descending)
    else:
        # Ties keep the agents' natural order whichever way the counts run.
        out.sort(key=lambda r: natural_key(r["agent"]))
        if sort == "total":
            out.sort(key=lambda r: r["finished"] + r["failed"] + r["aborted"], reverse=descending)
        else:
            out.sort(key=lambda r: r[sort], reverse=descending)
    return out


def aborted_tasks(
    conn: sa.Connection,
    since: float,
    until: float,
    *,
    agent: str | None = None,
    statuses: frozenset[str] = ABORTED,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Points in the window where a task reached one of ``statuses`` (the aborts by default,
    or the failures): ``{task, status, ts, agent, producer}``, newest first."""
    h = task_history
    query = sa.select(h).where(h.c.ts >= since, h.c.ts <= until, h.c.status.in_(statuses))
    if agent is not None:
        query = query.where(h.c.agent == agent)
    rows = conn.execute(query.order_by(h.c.ts.desc()).limit(limit))
    return [
        {
            "task": r.task_id,
            "status": r.status,
            "ts": r.ts,
            "agent": r.agent,
            "producer": r.producer,
        }
        for r in rows
    ]


def latest_activity(conn: sa.Connection) -> float | None:
    """When a task last changed (event time), ``None`` before the first: what a chart of tasks
    fits its default window to."""
    latest: float | None = conn.execute(sa.select(sa.func.max(tasks.c.updated_at))).scalar_one()
    return latest


def aborted_counts(
    conn: sa.Connection,
    since: float,
    until: float,
    *,
    step: float,
    buckets: int,
    agent: str | None = None,
    statuses: frozenset[str] = ABORTED,
) -> list[int]:
    """Points of ``statuses`` (aborts by default) per bucket of ``step`` seconds from ``since``
    (``buckets`` of them; a point at ``until`` counts in the last), counted by the database:
    one row per bucket."""
    h = task_history
    offset = (h.c.ts - since) / step
    # CAST truncates on SQLite but rounds on PostgreSQL, which has floor() built in.
    index = (
        sa.func.floor(offset) if conn.dialect.name == "postgresql" else sa.cast(offset, sa.Integer)
    )
    query = sa.select(index.label("bucket"), sa.func.count()).where(
        h.c.ts >= since, h.c.ts <= until, h.c.status.in_(statuses)
    )
    if agent is not None:
        query = query.where(h.c.agent == agent)
    counts = [0] * buckets
    # By the label: PostgreSQL would not see the expression with its own parameters as the same.
    for bucket, n in conn.execute(query.group_by(sa.text("bucket"))):
        counts[min(int(bucket), buckets - 1)] += n
    return counts
