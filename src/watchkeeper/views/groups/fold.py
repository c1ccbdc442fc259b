"""Folding Lamia's events into the task-groups tables (seed 003).

Duplicates are settled here, not only in the API: a create of an existing name and an event of
a missing process are ignored, so the first create wins even when two requests race past the
API's check, and the log replays into the same state.

:meth:`GroupsView.apply` answers each job event with its process's progress after it,
``[progress, enough]`` (``None`` when the process no longer exists): the writer hands that to
the request in its acknowledgement, so a job learns its progress without a read after the
commit. The value is exact: it is computed under the writer's lock from the state the event
was folded into.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.lamia import (
    JOB_EVENT,
    TASK_CREATED,
    TASK_DELETED,
    is_done,
    shape_of,
    status_of,
)
from watchkeeper.store import fold
from watchkeeper.store.fold import Row, Rows
from watchkeeper.store.view import Results
from watchkeeper.views.base import chunks, dumps
from watchkeeper.views.groups.progress import enough_of, progress_of, rounded
from watchkeeper.views.groups.tables import (
    TABLES,
    fits,
    idx,
    lamia_events,
    lamia_group_tags,
    lamia_groups,
    lamia_jobs,
    lamia_processes,
    lamia_progress,
)


class GroupsView:
    """The view: Lamia's creates, deletes and job events folded into the task-groups tables."""

    name = "groups"
    kinds = frozenset({TASK_CREATED, TASK_DELETED, JOB_EVENT})
    tables = TABLES

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> Results:
        # Deletes are rare: fold the events between two of them in bulk, then delete.
        results: dict[int, Any] = {}
        segment: list[Event] = []
        for event in events:
            if event.kind == TASK_DELETED:
                if segment:
                    _Segment(conn, results).fold(segment)
                    segment = []
                delete_group(conn, event.attrs["task"])
            else:
                segment.append(event)
        if segment:
            _Segment(conn, results).fold(segment)
        return results


def stored_seq(event: Event) -> int:
    """The ``seq`` the writer gave ``event`` (every event a view folds has one)."""
    if event.seq is None:
        raise ValueError("a view folds stored events only")
    return event.seq


def delete_group(conn: sa.Connection, name: str) -> None:
    for table in TABLES:
        column = table.c.name if table is lamia_groups else table.c.task
        conn.execute(table.delete().where(column == name))


class _Segment:
    """Folds a run of creates and job events: load what they touch, update in memory, write."""

    def __init__(self, conn: sa.Connection, results: dict[int, Any]) -> None:
        self.conn = conn
        self.results = results
        self.groups = Rows(conn, lamia_groups, ("name",))
        self.procs = Rows(conn, lamia_processes, ("task", "name"))
        self.jobs = Rows(conn, lamia_jobs, ("task", "proc", "idx"))
        self.tags: list[Row] = []
        self.events: list[Row] = []
        self.points: list[Row] = []

    def fold(self, events: Sequence[Event]) -> None:
        self._load(events)
        for event in events:
            if event.kind == TASK_CREATED:
                self._create(event)
            else:
                self._event(event)
        self._write()

    def _load(self, events: Sequence[Event]) -> None:
        """Fetch the processes and jobs the events touch, and the names the creates take.

        Only the processes the events name, so an event costs as much in a task of 10,000
        processes as in one of 10; an ``IN`` on one column at a time, which every backend plans
        on the primary key and SQLAlchemy compiles once (unlike a multi-column tuple ``IN``)."""
        slots: dict[tuple[str, str], set[int]] = {}
        names: set[str] = set()
        for e in events:
            if e.kind == JOB_EVENT:
                key = (e.attrs["task"], e.attrs["proc"])
                slots.setdefault(key, set()).add(idx(e.attrs["index"]))
            else:
                names.add(e.attrs["task"])
        self.groups.load(sorted(names))
        by_task: dict[str, list[str]] = {}
        for task, proc in slots:
            by_task.setdefault(task, []).append(proc)
        for task, procs in sorted(by_task.items()):
            for part in chunks(sorted(procs)):
                self.procs.take(self.conn.execute(_PROCESSES, {"task": task, "names": part}))
        for (task, proc), indices in slots.items():
            if self.procs.get((task, proc)) is None:
                continue
            for some in chunks(sorted(indices)):
                self.jobs.take(self.conn.execute(_JOBS, {"task": task, "proc": proc, "idx": some}))

    def _create(self, event: Event) -> None:
        a = event.attrs
        name = a["task"]
        if self.groups.get(name) is not None:
            return  # the first create of a name wins; a later one changes nothing
        at = event.received_at
        self.groups.add(
            name,
            {
                "username": a["username"],
                "comment": a["comment"],
                "tags": dumps(a["tags"]),
                "config": dumps(a["config"]),
                "email_notify": dumps(a["emailNotify"]),
                "dep_graph": a["depGraph"],
                "task_class": a["taskClass"],
                "host": a["host"],
                "client_ip": a["client_ip"],
                "submitted_at": event.ts,
                "created_at": at,
                "created_seq": event.seq,
            },
        )
        self.tags.extend({"task": name, "tag": tag} for tag in a["tags"])
        for position, (proc, spec) in enumerate(a["processes"].items()):
            n_jobs, threshold, needed = shape_of(spec)
            row = self.procs.add(
                (name, proc),
                {
                    "position": position,
                    "n_jobs": n_jobs,
                    "threshold": threshold,
                    "tolerance": needed,
                    "last_class": None,
                    "last_event_at": None,
                    "events": 0,
                    "done_jobs": 0,
                    "valued_jobs": 0,
                    "value_sum": 0.0,
                    "progress": 0.0,
                    "enough": False,
                    "enough_at": None,
                },
            )
            self._point(row, event.seq, at, force=True)

    def _event(self, event: Event) -> None:
        a = event.attrs
        seq = stored_seq(event)
        key = (a["task"], a["proc"])
        proc = self.procs.get(key)
        index = a["index"]
        if proc is None or not fits(proc["n_jobs"], index):
            # The process was deleted (or never existed, or was recreated with another shape):
            # nothing to fold.
            self.results[seq] = None
            return
        at = event.received_at
        slot = idx(index)
        job_key = (*key, slot)
        job = self.jobs.edit(job_key)
        was_done = False
        if job is None:
            job = self.jobs.add(job_key, {"value": None, "host": None, "first_at": at, "events": 0})
        else:
            was_done = is_done(job["last_class"])
        event_class = a["class"]
        job["last_class"] = event_class
        job["status"] = status_of(event_class)
        job["last_at"] = at
        job["events"] += 1
        job["host"] = a["host"] or job["host"]
        progress = a["progress"]
        if progress is not None:
            if job["value"] is None:
                proc["valued_jobs"] += 1
            proc["value_sum"] += progress - (job["value"] or 0.0)
            job["value"] = progress
        proc["done_jobs"] += int(is_done(event_class)) - int(was_done)
        proc["last_class"] = event_class
        proc["last_event_at"] = at
        proc["events"] += 1
        self.procs.touch(key)
        self._point(proc, event.seq, at)
        self.results[seq] = [rounded(proc["progress"]), bool(proc["enough"])]
        self.events.append(
            {
                "id": event.seq,
                "task": key[0],
                "proc": key[1],
                "idx": slot,
                "event_class": event_class,
                "payload": None if a["payload"] is None else dumps(a["payload"]),
                "progress": progress,
                "sent_at": a["sent_at"],
                "received_at": at,
                "host": a["host"],
                "client_ip": a["client_ip"],
            }
        )

    def _point(
        self, proc: dict[str, Any], seq: int | None, at: float, *, force: bool = False
    ) -> None:
        """Recompute the process's progress; record a history point when it changed."""
        args = (
            proc["n_jobs"],
            proc["threshold"],
            proc["tolerance"],
            proc["done_jobs"],
            proc["valued_jobs"],
            proc["value_sum"],
        )
        progress, enough = progress_of(*args), enough_of(*args)
        if not force and progress == proc["progress"] and enough == proc["enough"]:
            return
        if enough and not proc["enough"]:
            proc["enough_at"] = at
        proc["progress"], proc["enough"] = progress, enough
        self.points.append(
            {
                "seq": seq,
                "task": proc["task"],
                "proc": proc["name"],
                "ts": at,
                "progress": progress,
                "enough": enough,
            }
        )

    def _write(self) -> None:
        self.groups.write()
        fold.insert(self.conn, lamia_group_tags, self.tags)
        self.procs.write()
        self.jobs.write()
        fold.insert(self.conn, lamia_events, self.events)
        fold.insert(self.conn, lamia_progress, self.points)


# Statements the writer runs for every commit, built once.
_PROCESSES = sa.select(lamia_processes).where(
    lamia_processes.c.task == sa.bindparam("task"),
    lamia_processes.c.name.in_(sa.bindparam("names", expanding=True)),
)
_JOBS = sa.select(lamia_jobs).where(
    lamia_jobs.c.task == sa.bindparam("task"),
    lamia_jobs.c.proc == sa.bindparam("proc"),
    lamia_jobs.c.idx.in_(sa.bindparam("idx", expanding=True)),
)

VIEW = GroupsView()
