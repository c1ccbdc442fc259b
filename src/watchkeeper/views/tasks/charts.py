"""The tasks view's chart data: the waterfall of status spans, results per agent, aborts."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.kinds import (
    ABORTED,
    FAILED,
    FINISHED,
    TERMINAL,
)
from watchkeeper.events.timefmt import iso
from watchkeeper.views.base import chunks
from watchkeeper.views.tasks.tables import task_history, tasks


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
