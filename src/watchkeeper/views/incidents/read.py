"""Reading incidents: pages of them, groups by fingerprint, and the incidents linked to a task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.timefmt import iso, parse_time
from watchkeeper.views.base import chunks, loads
from watchkeeper.views.incidents.fold import incidents


def incident_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent": row.agent,
        "ts": iso(row.ts),
        "level": row.level,
        "message": row.message,
        "last_state": row.last_state,
        "task": row.task_id,
        "subtask": row.subtask,
        "subtasks_left": row.subtasks_left,
        "current_loc": row.current_loc,
        "target_loc": row.target_loc,
        "pings": loads(row.pings),
        "fingerprint": row.fingerprint,
    }


def list_incidents(
    conn: sa.Connection,
    *,
    agent: str | None = None,
    task: str | None = None,
    since: float | None = None,
    until: float | None = None,
    fingerprint: str | None = None,
    search: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    i = incidents
    where: list[sa.ColumnElement[bool]] = []
    if agent is not None:
        where.append(i.c.agent == agent)
    if task is not None:
        where.append(i.c.task_id == task)
    if since is not None:
        where.append(i.c.ts >= since)
    if until is not None:
        where.append(i.c.ts <= until)
    if fingerprint is not None:
        where.append(i.c.fingerprint == fingerprint)
    if search:
        where.append(
            sa.or_(
                i.c.message.contains(search, autoescape=True),
                i.c.last_state.contains(search, autoescape=True),
            )
        )
    total = conn.execute(sa.select(sa.func.count()).select_from(i).where(*where)).scalar_one()
    query = sa.select(i).where(*where)
    if before_id is not None:
        query = query.where(i.c.id < before_id)
    rows = conn.execute(query.order_by(i.c.id.desc()).limit(limit))
    return [incident_dict(r) for r in rows], total


def get_incident(conn: sa.Connection, incident_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
    return incident_dict(row) if row is not None else None


def groups(
    conn: sa.Connection, *, since: float | None = None, until: float | None = None
) -> list[dict[str, Any]]:
    """Incidents grouped by fingerprint, largest group first."""
    i = incidents
    where = []
    if since is not None:
        where.append(i.c.ts >= since)
    if until is not None:
        where.append(i.c.ts <= until)
    query = (
        sa.select(
            i.c.fingerprint,
            sa.func.count().label("count"),
            sa.func.count(sa.distinct(i.c.agent)).label("agents"),
            sa.func.min(i.c.ts).label("first"),
            sa.func.max(i.c.ts).label("last"),
            sa.func.max(i.c.id).label("latest"),
        )
        .where(*where)
        .group_by(i.c.fingerprint)
        .order_by(sa.text("count DESC"))
    )
    rows = conn.execute(query).all()
    latest = (
        {
            r.id: r
            for r in conn.execute(sa.select(i).where(i.c.id.in_([row.latest for row in rows])))
        }
        if rows
        else {}
    )
    out = []
    for row in rows:
        sample = latest.get(row.latest)
        out.append(
            {
                "fingerprint": row.fingerprint,
                "count": row.count,
                "agents": row.agents,
                "first": iso(row.first),
                "last": iso(row.last),
                "last_state": sample.last_state if sample else None,
                "message": sample.message if sample else None,
            }
        )
    return out


#: Why an incident is linked to a task (see :func:`link`).
NAMED, SAME_AGENT = "task", "agent"


def link(
    row: Any, task_id: str, aborts: Sequence[tuple[str | None, float]], window: float
) -> dict[str, Any] | None:
    """Why the incident ``row`` belongs to the task ``task_id``, or ``None`` if it does not.

    An incident that names a task belongs to that task alone, whenever it was reported. One
    that names no task belongs to an abort whose agent reported it at most ``window`` seconds
    before the abort: an agent reports what went wrong before it gives the task up, and a
    report after the abort is about what it did next. ``aborts`` are ``(agent, ts)``.
    """
    if row.task_id is not None:
        return {"reason": NAMED, "text": "named the task"} if row.task_id == task_id else None
    gaps = [
        ts - row.ts for agent, ts in aborts if agent == row.agent and 0 <= ts - row.ts <= window
    ]
    if not gaps:
        return None
    before = round(min(gaps), 3)
    return {
        "reason": SAME_AGENT,
        "seconds_before": before,
        "text": f"same agent, {before:g} s before",
    }


def for_task(
    conn: sa.Connection,
    task_id: str,
    aborts: Sequence[tuple[str | None, float]],
    window: float = 120.0,
) -> list[dict[str, Any]]:
    """The incidents linked to a task (see :func:`link`), each with its ``link``, oldest first.

    ``aborts`` are the task's ``(agent, ts)`` abort points, the agent as known at the abort.
    """
    i = incidents
    cond = [i.c.task_id == task_id]
    for agent, ts in aborts:
        if agent is not None:
            cond.append(
                sa.and_(i.c.task_id.is_(None), i.c.agent == agent, i.c.ts.between(ts - window, ts))
            )
    rows = conn.execute(sa.select(i).where(sa.or_(*cond)).order_by(i.c.ts, i.c.id))
    out = []
    for row in rows:
        why = link(row, task_id, aborts, window)
        if why is not None:
            out.append({**incident_dict(row), "link": why})
    return out


def around(
    conn: sa.Connection, pairs: Sequence[tuple[str, str | None, float]], window: float = 120.0
) -> list[list[dict[str, Any]]]:
    """For many aborts ``(task, agent, ts)`` at once: the incidents linked to each abort.

    An abort's incidents are those naming its task and those its agent reported, naming no
    task, in the ``window`` before it (as :func:`link` says), each with its ``link``, oldest
    first; found with two queries per chunk instead of one per abort.
    """
    i = incidents
    named: dict[str, list[Any]] = {}
    for part in chunks(sorted({task_id for task_id, _, _ in pairs})):
        for r in conn.execute(sa.select(i).where(i.c.task_id.in_(part))):
            named.setdefault(r.task_id, []).append(r)
    unnamed: dict[str, list[Any]] = {}
    timed = [(agent, ts) for _, agent, ts in pairs if agent is not None]
    if timed:
        first = min(ts for _, ts in timed) - window
        last = max(ts for _, ts in timed)
        for part in chunks(sorted({agent for agent, _ in timed})):
            query = sa.select(i).where(
                i.c.agent.in_(part), i.c.task_id.is_(None), i.c.ts.between(first, last)
            )
            for r in conn.execute(query):
                unnamed.setdefault(r.agent, []).append(r)
    out = []
    for task_id, agent, ts in pairs:
        found = list(named.get(task_id, ()))
        if agent is not None:
            found += [r for r in unnamed.get(agent, ()) if ts - window <= r.ts <= ts]
        found.sort(key=lambda r: (r.ts, r.id))
        aborts = [(agent, ts)]
        out.append([{**incident_dict(r), "link": link(r, task_id, aborts, window)} for r in found])
    return out


def cause(linked: Sequence[dict[str, Any]], abort_ts: float) -> dict[str, Any] | None:
    """The incident shown as the cause of an abort, among those linked to it: one naming the
    task, the nearest in time to the abort; else the last one its agent reported before it."""
    named = [r for r in linked if r["link"]["reason"] == NAMED]
    if named:
        return min(named, key=lambda r: abs(parse_time(r["ts"]) - abort_ts))
    return linked[-1] if linked else None


def count_since(conn: sa.Connection, since: float) -> int:
    query = sa.select(sa.func.count()).select_from(incidents).where(incidents.c.ts >= since)
    return conn.execute(query).scalar_one()
