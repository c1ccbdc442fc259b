"""Reads of the task-groups tables: rows for the API's edges to shape (``/api/v0`` in Lamia's
field names, ``/api/v1/groups`` and the dashboard in :mod:`.grid`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import bulk
from watchkeeper.views.base import chunks
from watchkeeper.views.groups.tables import (
    lamia_events,
    lamia_group_tags,
    lamia_groups,
    lamia_jobs,
    lamia_processes,
)

#: When a task last heard from a job, or its creation if never (a column to order by).
UPDATED_AT = sa.func.coalesce(
    sa.select(sa.func.max(lamia_processes.c.last_event_at))
    .where(lamia_processes.c.task == lamia_groups.c.name)
    .scalar_subquery(),
    lamia_groups.c.created_at,
)


def created_seq(conn: sa.Connection, name: str) -> int | None:
    """The ``seq`` of the create that made task ``name``, or ``None`` if there is no such task."""
    g = lamia_groups
    seq: int | None = conn.execute(sa.select(g.c.created_seq).where(g.c.name == name)).scalar()
    return seq


_LOOKUP = (
    sa.select(lamia_processes.c.name, lamia_processes.c.n_jobs, lamia_processes.c.threshold)
    .add_columns(lamia_groups.c.host)
    .select_from(
        lamia_groups.outerjoin(
            lamia_processes,
            sa.and_(
                lamia_processes.c.task == lamia_groups.c.name,
                lamia_processes.c.name == sa.bindparam("proc"),
            ),
        )
    )
    .where(lamia_groups.c.name == sa.bindparam("task"))
)


def lookup(conn: sa.Connection, task: str, proc: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether the task exists, and its process ``proc`` (``n_jobs``, ``threshold``, and the
    task's submit ``host``) if any. One primary-key read, whatever the size of the task: every
    job event the API takes is checked with it."""
    row = bulk.first(conn, _LOOKUP, {"task": task, "proc": proc})
    if row is None:
        return False, None
    name, n_jobs, threshold, host = row
    if name is None:
        return True, None
    return True, {"n_jobs": n_jobs, "threshold": threshold, "host": host}


def stale_counts(
    conn: sa.Connection, tasks: Sequence[str], cutoff: float
) -> dict[tuple[str, str], int]:
    """Running jobs silent since before ``cutoff``, per process."""
    j = lamia_jobs
    out: dict[tuple[str, str], int] = {}
    for part in chunks(list(tasks)):
        query = (
            sa.select(j.c.task, j.c.proc, sa.func.count())
            .where(j.c.task.in_(part), j.c.status == "running", j.c.last_at < cutoff)
            .group_by(j.c.task, j.c.proc)
        )
        for task, proc, count in conn.execute(query):
            out[(task, proc)] = count
    return out


def processes_of(conn: sa.Connection, tasks: Sequence[str]) -> dict[str, list[sa.Row[Any]]]:
    """The processes of each of ``tasks``, in their order in the task."""
    p = lamia_processes
    out: dict[str, list[sa.Row[Any]]] = {name: [] for name in tasks}
    for part in chunks(list(tasks)):
        query = sa.select(p).where(p.c.task.in_(part)).order_by(p.c.task, p.c.position)
        for row in conn.execute(query):
            out[row.task].append(row)
    return out


def task_row(conn: sa.Connection, name: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(lamia_groups).where(lamia_groups.c.name == name)).first()


def _tag_filter(tags: Sequence[str]) -> sa.ColumnElement[bool]:
    """Tasks having every one of ``tags``."""
    t = lamia_group_tags
    having_all = (
        sa.select(t.c.task)
        .where(t.c.tag.in_(list(tags)))
        .group_by(t.c.task)
        .having(sa.func.count() == len(set(tags)))
    )
    return lamia_groups.c.name.in_(having_all)


def list_tasks(
    conn: sa.Connection,
    *,
    tags: Sequence[str] = (),
    username: str | None = None,
    search: str | None = None,
    order: sa.ColumnElement[Any] | None = None,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[sa.Row[Any]], int]:
    """One page of task rows (in creation order unless ordered by ``order``, then by name) and
    the total matching."""
    g = lamia_groups
    where: list[sa.ColumnElement[bool]] = []
    if tags:
        where.append(_tag_filter(tags))
    if username is not None:
        where.append(g.c.username == username)
    if search:
        where.append(g.c.name.contains(search, autoescape=True))
    total = conn.execute(sa.select(sa.func.count()).select_from(g).where(*where)).scalar_one()
    column = g.c.created_seq if order is None else order
    keys = (column.desc(), g.c.name.desc()) if descending else (column.asc(), g.c.name.asc())
    query = sa.select(g).where(*where).order_by(*keys).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all()), total


def process_row(conn: sa.Connection, task: str, proc: str) -> sa.Row[Any] | None:
    p = lamia_processes
    return conn.execute(sa.select(p).where(p.c.task == task, p.c.name == proc)).first()


def processes_with_class(
    conn: sa.Connection, task: str, event_class: str | None
) -> list[sa.Row[Any]]:
    """The processes of ``task`` (only those with an event of ``event_class``, if given)."""
    p, e = lamia_processes, lamia_events
    query = sa.select(p).where(p.c.task == task)
    if event_class is not None:
        having = sa.select(e.c.proc).where(e.c.task == task, e.c.event_class == event_class)
        query = query.where(p.c.name.in_(having))
    return list(conn.execute(query.order_by(p.c.position)).all())


def list_events(
    conn: sa.Connection,
    task: str,
    proc: str,
    *,
    index: int | None = None,
    event_class: str | None = None,
    host: str | None = None,
    ip: str | None = None,
    order: sa.ColumnElement[Any] | None = None,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[sa.Row[Any]], int]:
    """Events of one process (of one array slot with ``index``), oldest first by default."""
    e = lamia_events
    where = [e.c.task == task, e.c.proc == proc]
    if index is not None:
        where.append(e.c.idx == index)
    if event_class is not None:
        where.append(e.c.event_class == event_class)
    if host is not None:
        where.append(e.c.host == host)
    if ip is not None:
        where.append(e.c.client_ip == ip)
    total = conn.execute(sa.select(sa.func.count()).select_from(e).where(*where)).scalar_one()
    column = e.c.id if order is None else order
    keys = (column.desc(), e.c.id.desc()) if descending else (column.asc(), e.c.id.asc())
    query = sa.select(e).where(*where).order_by(*keys).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all()), total


def event_row(
    conn: sa.Connection, task: str, proc: str, event_id: int, index: int | None = None
) -> sa.Row[Any] | None:
    e = lamia_events
    where = [e.c.id == event_id, e.c.task == task, e.c.proc == proc]
    if index is not None:
        where.append(e.c.idx == index)
    return conn.execute(sa.select(e).where(*where)).first()


def latest_events(conn: sa.Connection, task: str, *, limit: int = 20) -> list[sa.Row[Any]]:
    """The latest events of every process of ``task``, newest first."""
    e = lamia_events
    query = sa.select(e).where(e.c.task == task).order_by(e.c.id.desc()).limit(limit)
    return list(conn.execute(query).all())
