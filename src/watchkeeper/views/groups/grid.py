"""Task groups as ``/api/v1/groups`` and the dashboard show them: summaries of groups and
processes, each process's job slots (the dashboard's grid, paged by array index) and its
progress history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.lamia import job_id
from watchkeeper.events.timefmt import iso
from watchkeeper.views.base import loads
from watchkeeper.views.groups.progress import activity, amount, overall, rounded
from watchkeeper.views.groups.queries import list_tasks, processes_of, stale_counts, task_row
from watchkeeper.views.groups.tables import index_out, lamia_groups, lamia_jobs, lamia_progress


def group_summary(
    row: Any, procs: Sequence[Any], stale: dict[tuple[str, str], int]
) -> dict[str, Any]:
    progress, enough = overall(procs)
    updated, events = activity(row, procs)
    return {
        "name": row.name,
        "user": row.username,
        "comment": row.comment,
        "tags": loads(row.tags) or [],
        "config": loads(row.config),
        "email_notify": loads(row.email_notify),
        "task_class": row.task_class,
        "host": row.host,
        "client_ip": row.client_ip,
        "submitted_at": iso(row.submitted_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(updated),
        "events": events,
        "progress": progress,
        "enough": enough,
        "process_count": len(procs),
        "stale_jobs": sum(stale.get((p.task, p.name), 0) for p in procs),
    }


def process_summary(row: Any, stale: int) -> dict[str, Any]:
    """A process as ``/api/v1/groups`` shows it, without its slots and history."""
    return {
        "name": row.name,
        "type": "solitary" if row.n_jobs is None else "array",
        "n_jobs": row.n_jobs,
        "threshold": amount(row.threshold),
        "tolerance": row.tolerance,
        "last_event_class": row.last_class,
        "last_event_at": iso(row.last_event_at),
        "events": row.events,
        "done_jobs": row.done_jobs,
        "jobs_with_progress": row.valued_jobs,
        "progress": rounded(row.progress),
        "enough": bool(row.enough),
        "enough_at": iso(row.enough_at),
        "stale_jobs": stale,
    }


def list_groups(
    conn: sa.Connection,
    *,
    now: float,
    stale_after: float,
    tags: Sequence[str] = (),
    user: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = 100,
    with_processes: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Groups, newest first; ``with_processes`` adds each one's process summaries (read anyway
    to compute the group's progress, so they cost nothing more)."""
    rows, total = list_tasks(
        conn,
        tags=tags,
        username=user,
        search=search,
        order=lamia_groups.c.created_at,
        descending=True,
        offset=offset,
        limit=limit,
    )
    names = [r.name for r in rows]
    procs = processes_of(conn, names)
    stale = stale_counts(conn, names, now - stale_after)
    out = []
    for r in rows:
        item = group_summary(r, procs[r.name], stale)
        if with_processes:
            item["processes"] = [
                process_summary(p, stale.get((p.task, p.name), 0)) for p in procs[r.name]
            ]
        out.append(item)
    return out, total


def get_group(
    conn: sa.Connection,
    name: str,
    *,
    now: float,
    stale_after: float,
    history_limit: int = 1000,
    slot_limit: int | None = None,
    slot_from: Mapping[str, int] | None = None,
) -> dict[str, Any] | None:
    """A group with its processes, each with its job slots and its progress history.

    A slot is a job that has sent an event. With ``slot_limit``, an array lists only the slots
    with an index from ``slot_from[process]`` (default 0) to that plus ``slot_limit``, one page
    of a large array; ``slot_count``, ``first_index``, ``last_index`` and ``status_counts``
    always describe every slot of the process.
    """
    row = task_row(conn, name)
    if row is None:
        return None
    cutoff = now - stale_after
    procs = processes_of(conn, [name])[name]
    stale = stale_counts(conn, [name], cutoff)
    out = group_summary(row, procs, stale)
    shapes = _slot_shapes(conn, name)
    slots = _slots(conn, name, procs, cutoff, slot_limit, slot_from or {})
    h = lamia_progress
    out["processes"] = []
    for p in procs:
        ranked = (
            sa.select(h.c.ts, h.c.progress, h.c.enough)
            .where(h.c.task == name, h.c.proc == p.name)
            .order_by(h.c.seq.desc())
            .limit(history_limit)
        )
        points = conn.execute(ranked).all()
        shape = shapes.get(p.name, _Shape())
        out["processes"].append(
            {
                **process_summary(p, stale.get((name, p.name), 0)),
                "status_counts": shape.counts,
                "slot_count": shape.count,
                "first_index": None if shape.first is None else index_out(shape.first),
                "last_index": None if shape.last is None else index_out(shape.last),
                "slots": slots.get(p.name, []),
                "history": [
                    {"ts": iso(pt.ts), "progress": rounded(pt.progress), "enough": bool(pt.enough)}
                    for pt in reversed(points)
                ],
            }
        )
    return out


class _Shape:
    """What a process's reported slots add up to: jobs per status, and the indices they span."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None


def _slot_shapes(conn: sa.Connection, task: str) -> dict[str, _Shape]:
    j = lamia_jobs
    query = (
        sa.select(j.c.proc, j.c.status, sa.func.count(), sa.func.min(j.c.idx), sa.func.max(j.c.idx))
        .where(j.c.task == task)
        .group_by(j.c.proc, j.c.status)
    )
    shapes: dict[str, _Shape] = {}
    for proc, status, count, first, last in conn.execute(query):
        shape = shapes.setdefault(proc, _Shape())
        shape.counts[status] = count
        shape.count += count
        shape.first = first if shape.first is None else min(shape.first, first)
        shape.last = last if shape.last is None else max(shape.last, last)
    return shapes


def _slots(
    conn: sa.Connection,
    task: str,
    procs: Sequence[Any],
    cutoff: float,
    limit: int | None,
    start: Mapping[str, int],
) -> dict[str, list[dict[str, Any]]]:
    """The slots of each process, in index order (one page of each array with ``limit``)."""
    j = lamia_jobs
    out: dict[str, list[dict[str, Any]]] = {p.name: [] for p in procs}
    if limit is None:
        query = sa.select(j).where(j.c.task == task).order_by(j.c.proc, j.c.idx)
        for job in conn.execute(query):
            if job.proc in out:
                out[job.proc].append(_slot(job, cutoff))
        return out
    for p in procs:
        query = sa.select(j).where(j.c.task == task, j.c.proc == p.name)
        if p.n_jobs is not None:
            first = start.get(p.name, 0)
            query = query.where(j.c.idx >= first, j.c.idx < first + limit)
        out[p.name] = [_slot(job, cutoff) for job in conn.execute(query.order_by(j.c.idx))]
    return out


def _slot(job: Any, cutoff: float) -> dict[str, Any]:
    index = index_out(job.idx)
    return {
        "index": index,
        "task_id": job_id(job.task, job.proc, index),
        "last_event_class": job.last_class,
        "status": job.status,
        "value": amount(job.value),
        "host": job.host,
        "first_event_at": iso(job.first_at),
        "last_event_at": iso(job.last_at),
        "events": job.events,
        "stale": job.status == "running" and job.last_at < cutoff,
    }
