"""Incidents: what an agent reported when something went wrong, grouped by fingerprint.

The fingerprint groups incidents of the same kind across agents and tasks: the last state plus
the message with its numbers and identifiers masked, so "timeout after 31 s on lift 7" and
"timeout after 12 s on lift 3" fall into one group.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import chunks, dumps, loads

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", BigKey, primary_key=True, autoincrement=False),
    sa.Column("agent", sa.String(200), nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("last_state", sa.String(64)),
    sa.Column("task_id", sa.String(200)),
    sa.Column("subtask", sa.Integer),
    sa.Column("subtasks_left", sa.Integer),
    sa.Column("current_loc", sa.String(500)),
    sa.Column("target_loc", sa.String(500)),
    sa.Column("pings", sa.Text),
    sa.Column("fingerprint", sa.String(16), nullable=False),
    sa.Index("ix_incidents_agent_ts", "agent", "ts"),
    sa.Index("ix_incidents_task", "task_id"),
    sa.Index("ix_incidents_ts", "ts"),
    sa.Index("ix_incidents_fingerprint", "fingerprint"),
)

_MASK = re.compile(r"0x[0-9a-f]+|[0-9a-f]{8,}|\d+(\.\d+)?")
_SPACE = re.compile(r"\s+")


def fingerprint(last_state: str | None, message: str | None) -> str:
    text = _SPACE.sub(" ", _MASK.sub("#", (message or "").lower())).strip()
    return hashlib.sha1(f"{last_state or ''}\x00{text}".encode()).hexdigest()[:16]


class IncidentsView:
    name = "incidents"
    kinds = frozenset({"incident"})
    tables = (incidents,)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        rows = []
        for event in events:
            a = event.attrs
            pings = a.get("pings")
            rows.append(
                (
                    event.seq,
                    a["agent"],
                    event.ts,
                    event.level,
                    a.get("message"),
                    a.get("last_state"),
                    a.get("task"),
                    a.get("subtask"),
                    a.get("subtasks_left"),
                    a.get("current_loc"),
                    a.get("target_loc"),
                    dumps(pings) if pings is not None else None,
                    fingerprint(a.get("last_state"), a.get("message")),
                )
            )
        bulk.insert(conn, incidents, _COLUMNS, rows)


_COLUMNS = (
    "id",
    "agent",
    "ts",
    "level",
    "message",
    "last_state",
    "task_id",
    "subtask",
    "subtasks_left",
    "current_loc",
    "target_loc",
    "pings",
    "fingerprint",
)

VIEW = IncidentsView()


# --- queries -------------------------------------------------------------------------------


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


def for_task(
    conn: sa.Connection,
    task_id: str,
    agent: str | None,
    abort_times: Sequence[float],
    window: float = 120.0,
) -> list[dict[str, Any]]:
    """Incidents naming the task, plus those its agent reported within ``window`` of an abort."""
    i = incidents
    cond = [i.c.task_id == task_id]
    if agent is not None:
        for ts in abort_times:
            cond.append(sa.and_(i.c.agent == agent, i.c.ts.between(ts - window, ts + window)))
    rows = conn.execute(sa.select(i).where(sa.or_(*cond)).order_by(i.c.ts))
    return [incident_dict(r) for r in rows]


def around(
    conn: sa.Connection, pairs: Sequence[tuple[str, str | None, float]], window: float = 120.0
) -> dict[str, list[dict[str, Any]]]:
    """For many ``(task, agent, abort_ts)`` at once: the incidents linked to each task.

    The same incidents as :func:`for_task` for each pair, found with two queries per chunk
    instead of one per task: those naming the tasks, and those their agents reported between
    the first abort and the last (give or take ``window``), matched here.
    """
    i = incidents
    found: dict[int, Any] = {}
    tasks = sorted({task_id for task_id, _, _ in pairs})
    for part in chunks(tasks):
        found.update((r.id, r) for r in conn.execute(sa.select(i).where(i.c.task_id.in_(part))))
    timed = [(agent, ts) for _, agent, ts in pairs if agent is not None]
    if timed:
        first = min(ts for _, ts in timed) - window
        last = max(ts for _, ts in timed) + window
        for part in chunks(sorted({agent for agent, _ in timed})):
            query = sa.select(i).where(i.c.agent.in_(part), i.c.ts.between(first, last))
            found.update((r.id, r) for r in conn.execute(query))
    by_task: dict[str, list[Any]] = {}
    by_agent: dict[str, list[Any]] = {}
    for row in found.values():
        if row.task_id is not None:
            by_task.setdefault(row.task_id, []).append(row)
        by_agent.setdefault(row.agent, []).append(row)
    out: dict[str, dict[int, Any]] = {}
    for task_id, agent, ts in pairs:
        linked = out.setdefault(task_id, {})
        linked.update((r.id, r) for r in by_task.get(task_id, ()))
        if agent is not None:
            linked.update(
                (r.id, r) for r in by_agent.get(agent, ()) if ts - window <= r.ts <= ts + window
            )
    return {
        task_id: [incident_dict(r) for r in sorted(rows.values(), key=lambda r: (r.ts, r.id))]
        for task_id, rows in out.items()
    }


def count_since(conn: sa.Connection, since: float) -> int:
    query = sa.select(sa.func.count()).select_from(incidents).where(incidents.c.ts >= since)
    return conn.execute(query).scalar_one()
