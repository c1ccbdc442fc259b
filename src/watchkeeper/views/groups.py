"""Task groups: Lamia tasks with their processes, jobs, events and progress (seed 003).

A Lamia task is a *group*; its processes are solitary jobs or job arrays; a job is one slot of
a process (``idx`` is the array index, ``-1`` for a solitary job). Each process keeps running
aggregates (jobs ``DONE``, jobs that reported a progress value and the sum of their values), so
its progress is known after every event without reading its jobs, and every change of it is
kept as a history point for charts.

A job's *value* is the ``progress`` of its latest event carrying one; "latest" is arrival order
(``seq``), which a rebuild replays identically. A process's progress is a percentage:

===================  =====================  ==================================
threshold            events carry progress  process progress
===================  =====================  ==================================
not set              no                     DONE jobs / jobs x 100
not set              yes                    sum of job values / jobs
set (an amount)      no                     DONE jobs / threshold x 100
set (an amount)      yes                    sum of job values / threshold x 100
===================  =====================  ==================================

"jobs" is the ``needed`` of the list form ``[nJobs, needed]``, or ``nJobs``. ``enough`` is true
once the threshold amount is reached, or with no threshold once the jobs are ``DONE``: the jobs
may stop.

Duplicates are settled here, not only in the API: a create of an existing name and an event of
a missing process are ignored, so the first create wins even when two requests race past the
API's check, and the log replays into the same state.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.lamia import (
    JOB_EVENT,
    TASK_CREATED,
    TASK_DELETED,
    is_done,
    job_id,
    shape_of,
    status_of,
)
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import chunks, dumps, loads

#: The array index of a solitary job.
SOLITARY = -1
#: Digits kept when progress is reported (hides float noise such as 33.333333333333336).
DIGITS = 6

lamia_groups = sa.Table(
    "lamia_groups",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("username", sa.String(200)),
    sa.Column("comment", sa.Text),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("config", sa.Text),
    sa.Column("email_notify", sa.Text),
    sa.Column("dep_graph", sa.Text),
    sa.Column("task_class", sa.String(200)),
    sa.Column("host", sa.String(200)),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("submitted_at", Time, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("created_seq", BigKey, nullable=False),
    sa.Index("ix_lamia_groups_created_seq", "created_seq"),
)

lamia_group_tags = sa.Table(
    "lamia_group_tags",
    metadata,
    sa.Column("task", sa.String(100), primary_key=True),
    sa.Column("tag", sa.String(200), primary_key=True),
    sa.Index("ix_lamia_group_tags_tag", "tag"),
)

lamia_processes = sa.Table(
    "lamia_processes",
    metadata,
    sa.Column("task", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("n_jobs", sa.Integer),
    sa.Column("threshold", sa.Double),
    sa.Column("tolerance", sa.Integer),
    sa.Column("last_class", sa.String(64)),
    sa.Column("last_event_at", Time),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("done_jobs", sa.Integer, nullable=False),
    sa.Column("valued_jobs", sa.Integer, nullable=False),
    sa.Column("value_sum", sa.Double, nullable=False),
    sa.Column("progress", sa.Double, nullable=False),
    sa.Column("enough", sa.Boolean, nullable=False),
    sa.Column("enough_at", Time),
)

lamia_jobs = sa.Table(
    "lamia_jobs",
    metadata,
    sa.Column("task", sa.String(100), primary_key=True),
    sa.Column("proc", sa.String(80), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("last_class", sa.String(64), nullable=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("value", sa.Double),
    sa.Column("host", sa.String(200)),
    sa.Column("first_at", Time, nullable=False),
    sa.Column("last_at", Time, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
)

lamia_events = sa.Table(
    "lamia_events",
    metadata,
    sa.Column("id", BigKey, primary_key=True, autoincrement=False),
    sa.Column("task", sa.String(100), nullable=False),
    sa.Column("proc", sa.String(80), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("event_class", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text),
    sa.Column("progress", sa.Double),
    sa.Column("sent_at", Time),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("host", sa.String(200)),
    sa.Column("client_ip", sa.String(64)),
    sa.Index("ix_lamia_events_job", "task", "proc", "idx", "id"),
    sa.Index("ix_lamia_events_class", "task", "event_class", "proc"),
)

lamia_progress = sa.Table(
    "lamia_progress",
    metadata,
    sa.Column("task", sa.String(100), primary_key=True),
    sa.Column("proc", sa.String(80), primary_key=True),
    sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("progress", sa.Double, nullable=False),
    sa.Column("enough", sa.Boolean, nullable=False),
)

TABLES = (lamia_groups, lamia_group_tags, lamia_processes, lamia_jobs, lamia_events, lamia_progress)


def progress_of(
    n_jobs: int | None,
    threshold: float | None,
    needed: int | None,
    done: int,
    valued: int,
    value_sum: float,
) -> float:
    """A process's progress in percent (it may exceed 100: jobs do not stop at once).

    ``threshold`` is an amount (``thresholdProgress``): values and DONE jobs are measured
    against it. Without one, values are job percentages and the work is ``needed`` jobs (the
    list form ``[nJobs, needed]``) or every job: a value of 50 is half a job, never 50 jobs.
    """
    if threshold is not None:
        return 100.0 * (value_sum if valued else done) / threshold
    jobs = needed or n_jobs or 1
    # Each value is a job percentage: sum / (jobs x 100) x 100.
    return value_sum / jobs if valued else 100.0 * done / jobs


def enough_of(
    n_jobs: int | None,
    threshold: float | None,
    needed: int | None,
    done: int,
    valued: int,
    value_sum: float,
) -> bool:
    """Whether enough is done for the jobs to stop: the amount reaches ``threshold`` (compared
    on the amounts, not the rounded percentage), or without one the ``needed`` jobs (every
    job if not given) are ``DONE``; a job's own percentage never says it is done."""
    if threshold is not None:
        return (value_sum if valued else done) >= threshold
    return done >= (needed or n_jobs or 1)


#: What folding a job event left its process at: ``(progress, enough)``, or ``None`` when the
#: process no longer exists.
Outcome = tuple[float, bool] | None


class GroupsView:
    """The view; it also remembers the outcome of the latest job events it folded, so the API
    can tell a job its process's progress without reading it back after the commit. The value
    is exact: it is computed under the writer's lock from the state the event was folded
    into."""

    name = "groups"
    kinds = frozenset({TASK_CREATED, TASK_DELETED, JOB_EVENT})
    tables = TABLES
    remember = 8192

    def __init__(self) -> None:
        self._outcomes: dict[tuple[int, int], Outcome] = {}
        self._lock = threading.Lock()

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        # Deletes are rare: fold the events between two of them in bulk, then delete.
        outcomes: dict[int, Outcome] = {}
        segment: list[Event] = []
        for event in events:
            if event.kind == TASK_DELETED:
                if segment:
                    _Segment(conn, outcomes).fold(segment)
                    segment = []
                delete_group(conn, event.attrs["task"])
            else:
                segment.append(event)
        if segment:
            _Segment(conn, outcomes).fold(segment)
        engine = id(conn.engine)
        with self._lock:
            for seq, outcome in outcomes.items():
                self._outcomes[(engine, seq)] = outcome
            while len(self._outcomes) > self.remember:
                del self._outcomes[next(iter(self._outcomes))]

    def outcome(self, engine: sa.Engine, seq: int) -> tuple[bool, Outcome]:
        """``(known, outcome)`` of the job event stored as ``seq`` through ``engine``."""
        with self._lock:
            key = (id(engine), seq)
            if key not in self._outcomes:
                return False, None
            return True, self._outcomes.pop(key)

    # A writer in another process folds the events; these carry the outcomes across.

    def take_results(self, engine: sa.Engine) -> dict[int, Outcome]:
        """Every remembered outcome of events stored through ``engine``, forgotten here."""
        engine_id = id(engine)
        with self._lock:
            keys = [key for key in self._outcomes if key[0] == engine_id]
            return {seq: self._outcomes.pop((engine_id, seq)) for _, seq in keys}

    def put_results(self, engine: sa.Engine, results: dict[int, Any]) -> None:
        """Remember outcomes taken by :meth:`take_results` (after a JSON round trip)."""
        engine_id = id(engine)
        with self._lock:
            for seq, outcome in results.items():
                value = None if outcome is None else (float(outcome[0]), bool(outcome[1]))
                self._outcomes[(engine_id, int(seq))] = value
            while len(self._outcomes) > self.remember:
                del self._outcomes[next(iter(self._outcomes))]


def delete_group(conn: sa.Connection, name: str) -> None:
    for table in TABLES:
        column = table.c.name if table is lamia_groups else table.c.task
        conn.execute(table.delete().where(column == name))


class _Segment:
    """Folds a run of creates and job events: load what they touch, update in memory, write."""

    def __init__(self, conn: sa.Connection, outcomes: dict[int, Outcome]) -> None:
        self.conn = conn
        self.outcomes = outcomes
        self.groups: set[str] = set()
        self.new_groups: list[dict[str, Any]] = []
        self.procs: dict[tuple[str, str], dict[str, Any]] = {}
        self.new_procs: set[tuple[str, str]] = set()
        self.dirty_procs: set[tuple[str, str]] = set()
        self.jobs: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.new_jobs: set[tuple[str, str, int]] = set()
        self.dirty_jobs: set[tuple[str, str, int]] = set()
        self.tags: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.points: list[dict[str, Any]] = []

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

        An ``IN`` on one column at a time, which every backend plans on the primary key and
        SQLAlchemy compiles once (unlike a multi-column tuple ``IN``)."""
        slots: dict[tuple[str, str], set[int]] = {}
        names: set[str] = set()
        for e in events:
            if e.kind == JOB_EVENT:
                key = (e.attrs["task"], e.attrs["proc"])
                slots.setdefault(key, set()).add(_idx(e.attrs["index"]))
            else:
                names.add(e.attrs["task"])
        for part in chunks(sorted(names)):
            self.groups.update(self.conn.execute(_TAKEN, {"names": part}).scalars())
        # Only the processes the events name: a task of 10,000 processes costs one event no
        # more than a task of 10.
        by_task: dict[str, list[str]] = {}
        for task, proc in slots:
            by_task.setdefault(task, []).append(proc)
        for task, procs in sorted(by_task.items()):
            for part in chunks(sorted(procs)):
                for row in self.conn.execute(_PROCESSES, {"task": task, "names": part}):
                    self.procs[(row.task, row.name)] = row._asdict()
        for (task, proc), indices in slots.items():
            if (task, proc) not in self.procs:
                continue
            for part in chunks(sorted(indices)):
                for row in self.conn.execute(_JOBS, {"task": task, "proc": proc, "idx": part}):
                    self.jobs[(row.task, row.proc, row.idx)] = row._asdict()

    def _create(self, event: Event) -> None:
        a = event.attrs
        name = a["task"]
        if name in self.groups:
            return  # the first create of a name wins; a later one changes nothing
        at = event.received_at
        self.groups.add(name)
        self.new_groups.append(
            {
                "name": name,
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
            }
        )
        self.tags.extend({"task": name, "tag": tag} for tag in a["tags"])
        for position, (proc, spec) in enumerate(a["processes"].items()):
            n_jobs, threshold, needed = shape_of(spec)
            row = {
                "task": name,
                "name": proc,
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
            }
            self.procs[(name, proc)] = row
            self.new_procs.add((name, proc))
            self._point(row, event.seq, at, force=True)

    def _event(self, event: Event) -> None:
        a = event.attrs
        key = (a["task"], a["proc"])
        proc = self.procs.get(key)
        index = a["index"]
        if proc is None or not _fits(proc["n_jobs"], index):
            # The process was deleted (or never existed, or was recreated with another shape):
            # nothing to fold.
            self.outcomes[event.seq] = None
            return
        at = event.received_at
        idx = _idx(index)
        job_key = (*key, idx)
        job = self.jobs.get(job_key)
        was_done = False
        if job is None:
            job = self.jobs[job_key] = {
                "task": key[0],
                "proc": key[1],
                "idx": idx,
                "value": None,
                "host": None,
                "first_at": at,
                "events": 0,
            }
            self.new_jobs.add(job_key)
        else:
            was_done = is_done(job["last_class"])
        event_class = a["class"]
        job["last_class"] = event_class
        job["status"] = status_of(event_class)
        job["last_at"] = at
        job["events"] += 1
        self.dirty_jobs.add(job_key)
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
        self.dirty_procs.add(key)
        self._point(proc, event.seq, at)
        self.outcomes[event.seq] = (_round(proc["progress"]), bool(proc["enough"]))
        self.events.append(
            {
                "id": event.seq,
                "task": key[0],
                "proc": key[1],
                "idx": idx,
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
        conn = self.conn
        if self.new_groups:
            conn.execute(lamia_groups.insert(), self.new_groups)
        if self.tags:
            conn.execute(lamia_group_tags.insert(), self.tags)
        if self.new_procs:
            conn.execute(lamia_processes.insert(), [self.procs[k] for k in self.new_procs])
        updates = [self.procs[k] for k in self.dirty_procs - self.new_procs]
        if updates:
            _bulk(conn, _UPDATE_PROCESS, _PROCESS_CHANGES + ("task", "name"), updates)
        if self.new_jobs:
            _bulk(conn, _INSERT_JOB, _JOB_COLUMNS, [self.jobs[k] for k in self.new_jobs])
        job_updates = [self.jobs[k] for k in self.dirty_jobs - self.new_jobs]
        if job_updates:
            _bulk(conn, _UPDATE_JOB, _JOB_CHANGES + ("task", "proc", "idx"), job_updates)
        if self.events:
            _bulk(conn, _INSERT_EVENT, _EVENT_COLUMNS, self.events)
        if self.points:
            conn.execute(lamia_progress.insert(), self.points)


# Statements the writer runs for every commit, built once.
_TAKEN = sa.select(lamia_groups.c.name).where(
    lamia_groups.c.name.in_(sa.bindparam("names", expanding=True))
)
_PROCESSES = sa.select(lamia_processes).where(
    lamia_processes.c.task == sa.bindparam("task"),
    lamia_processes.c.name.in_(sa.bindparam("names", expanding=True)),
)
_JOBS = sa.select(lamia_jobs).where(
    lamia_jobs.c.task == sa.bindparam("task"),
    lamia_jobs.c.proc == sa.bindparam("proc"),
    lamia_jobs.c.idx.in_(sa.bindparam("idx", expanding=True)),
)
#: The columns a job event changes.
_PROCESS_CHANGES = (
    "last_class",
    "last_event_at",
    "events",
    "done_jobs",
    "valued_jobs",
    "value_sum",
    "progress",
    "enough",
    "enough_at",
)
_JOB_CHANGES = ("last_class", "status", "value", "host", "last_at", "events")
_JOB_COLUMNS = tuple(c.name for c in lamia_jobs.columns)
_EVENT_COLUMNS = tuple(c.name for c in lamia_events.columns)


def _assign(names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} = {{p}}" for name in names)


# Plain SQL, the same on every backend; ``{p}`` becomes the driver's placeholder.
_UPDATE_PROCESS = (
    f"UPDATE lamia_processes SET {_assign(_PROCESS_CHANGES)} WHERE task = {{p}} AND name = {{p}}"
)
_UPDATE_JOB = (
    f"UPDATE lamia_jobs SET {_assign(_JOB_CHANGES)} WHERE task = {{p}} AND proc = {{p}} "
    "AND idx = {p}"
)
_INSERT_JOB = (
    f"INSERT INTO lamia_jobs ({', '.join(_JOB_COLUMNS)}) "
    f"VALUES ({', '.join(['{p}'] * len(_JOB_COLUMNS))})"
)
_INSERT_EVENT = (
    f"INSERT INTO lamia_events ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(['{p}'] * len(_EVENT_COLUMNS))})"
)


def _bulk(
    conn: sa.Connection, sql: str, names: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> None:
    """Run ``sql`` once per row through the driver's ``executemany``.

    The writer runs these for every commit; SQLAlchemy's per-row parameter processing costs
    more than the statements themselves here, and the values are plain numbers and strings
    that need no type processing (``bool`` is stored as SQLite's 0/1, as SQLAlchemy does).
    """
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    bulk.executemany(
        conn, sql.replace("{p}", placeholder), [tuple(row[n] for n in names) for row in rows]
    )


def _fits(n_jobs: int | None, index: int | None) -> bool:
    """Whether ``index`` addresses a job of a process of ``n_jobs`` (Lamia took 0 to nJobs)."""
    if n_jobs is None:
        return index is None
    return index is not None and 0 <= index <= n_jobs


def _idx(index: int | None) -> int:
    return SOLITARY if index is None else index


VIEW = GroupsView()


# --- queries -------------------------------------------------------------------------------

#: Task fields ``GET /api/v0?order=`` may sort by.
TASK_ORDER = {
    "name": lamia_groups.c.name,
    "submittedAt": lamia_groups.c.submitted_at,
    "createdAt": lamia_groups.c.created_at,
    "updatedAt": sa.func.coalesce(
        sa.select(sa.func.max(lamia_processes.c.last_event_at))
        .where(lamia_processes.c.task == lamia_groups.c.name)
        .scalar_subquery(),
        lamia_groups.c.created_at,
    ),
    "username": lamia_groups.c.username,
    # The original's other task columns: it ordered by any of them.
    "comment": lamia_groups.c.comment,
    "emailNotify": lamia_groups.c.email_notify,
    "hostname": lamia_groups.c.host,
    "submHostIP": lamia_groups.c.client_ip,
    "config": lamia_groups.c.config,
    "depGraph": lamia_groups.c.dep_graph,
}
#: Event fields ``GET /api/v0/<task>/<proc>/event?order=`` may sort by.
EVENT_ORDER = {
    "id": lamia_events.c.id,
    "sentAt": lamia_events.c.sent_at,
    "receivedAt": lamia_events.c.received_at,
    "eventClass": lamia_events.c.event_class,
    "procNumInArray": lamia_events.c.idx,
    # The original's other event columns, with its spelling of "received".
    "recievedAt": lamia_events.c.received_at,
    "payload": lamia_events.c.payload,
    "progress": lamia_events.c.progress,
    "hostname": lamia_events.c.host,
    "clientIP": lamia_events.c.client_ip,
    "procID": lamia_events.c.proc,
    "taskID": lamia_events.c.task,
}
TASK_FIELDS = (
    "name",
    "username",
    "comment",
    "tags",
    "config",
    "emailNotify",
    "depGraph",
    "taskClass",
    "submittedAt",
    "createdAt",
    "updatedAt",
    "hostname",
    "submHostIP",
    "nEvents",
    "progress",
    "enough",
    "processes",
)
EVENT_FIELDS = (
    "id",
    "taskID",
    "procID",
    "procNumInArray",
    "eventClass",
    "payload",
    "progress",
    "sentAt",
    "receivedAt",
    "hostname",
    "clientIP",
)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def _amount(value: float | None) -> float | int | None:
    """A threshold or job value as given: ``8`` stays ``8``, ``2.5`` stays ``2.5``."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _index_out(idx: int) -> int | None:
    return None if idx == SOLITARY else idx


def created_seq(conn: sa.Connection, name: str) -> int | None:
    """The ``seq`` of the create that made task ``name``, or ``None`` if there is no such task."""
    g = lamia_groups
    return conn.execute(sa.select(g.c.created_seq).where(g.c.name == name)).scalar()


def lookup(conn: sa.Connection, task: str, proc: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether the task exists, and its process ``proc`` (``n_jobs``, ``threshold``, and the
    task's submit ``host``) if any."""
    g, p = lamia_groups, lamia_processes
    joined = g.outerjoin(p, sa.and_(p.c.task == g.c.name, p.c.name == proc))
    query = sa.select(p.c.name, p.c.n_jobs, p.c.threshold, g.c.host).select_from(joined)
    row = conn.execute(query.where(g.c.name == task)).first()
    if row is None:
        return False, None
    if row.name is None:
        return True, None
    return True, {"n_jobs": row.n_jobs, "threshold": row.threshold, "host": row.host}


def progress_now(conn: sa.Connection, task: str, proc: str) -> tuple[float, bool] | None:
    p = lamia_processes
    row = conn.execute(
        sa.select(p.c.progress, p.c.enough).where(p.c.task == task, p.c.name == proc)
    ).first()
    return None if row is None else (_round(row.progress), bool(row.enough))


def _stale_counts(
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


def _processes_of(conn: sa.Connection, tasks: Sequence[str]) -> dict[str, list[Any]]:
    p = lamia_processes
    out: dict[str, list[Any]] = {name: [] for name in tasks}
    for part in chunks(list(tasks)):
        query = sa.select(p).where(p.c.task.in_(part)).order_by(p.c.task, p.c.position)
        for row in conn.execute(query):
            out[row.task].append(row)
    return out


def process_v0(row: Any, stale: int) -> dict[str, Any]:
    """A process as ``GET /api/v0/<task>/<proc>`` shows it (Lamia's field names)."""
    return {
        "name": row.name,
        "taskID": row.task,
        "type": "solitary" if row.n_jobs is None else "array",
        "nJobs": row.n_jobs,
        "fTolerance": row.tolerance,
        "thresholdProgress": _amount(row.threshold),
        "lastEventClass": row.last_class,
        "lastEventAt": iso(row.last_event_at),
        "nEvents": row.events,
        "doneJobs": row.done_jobs,
        "staleJobs": stale,
        "progress": _round(row.progress),
        "enough": bool(row.enough),
    }


def _activity(row: Any, procs: Sequence[Any]) -> tuple[float, int]:
    """When a task last heard from a job (its creation if never), and how many events."""
    latest = max((p.last_event_at for p in procs if p.last_event_at is not None), default=None)
    updated = row.created_at if latest is None else max(latest, row.created_at)
    return updated, sum(p.events for p in procs)


def _overall(procs: Sequence[Any]) -> tuple[float | None, bool]:
    """A task's progress is the mean of its processes'; it has enough when they all have."""
    if not procs:
        return None, False
    progress = sum(p.progress for p in procs) / len(procs)
    return _round(progress), all(bool(p.enough) for p in procs)


def task_v0(row: Any, procs: Sequence[Any], stale: dict[tuple[str, str], int]) -> dict[str, Any]:
    progress, enough = _overall(procs)
    updated, events = _activity(row, procs)
    return {
        "name": row.name,
        "username": row.username,
        "comment": row.comment,
        "tags": loads(row.tags) or [],
        "config": loads(row.config),
        "emailNotify": loads(row.email_notify),
        "depGraph": row.dep_graph,
        "taskClass": row.task_class,
        "submittedAt": iso(row.submitted_at),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(updated),
        "hostname": row.host,
        "submHostIP": row.client_ip,
        "nEvents": events,
        "progress": progress,
        "enough": enough,
        "processes": [process_v0(p, stale.get((p.task, p.name), 0)) for p in procs],
    }


def get_task(conn: sa.Connection, name: str, *, now: float, stale_after: float) -> dict | None:
    row = conn.execute(sa.select(lamia_groups).where(lamia_groups.c.name == name)).first()
    if row is None:
        return None
    procs = _processes_of(conn, [name])[name]
    return task_v0(row, procs, _stale_counts(conn, [name], now - stale_after))


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
    order: str | None = None,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[Any], int]:
    """One page of group rows (oldest first unless ordered) and the total matching."""
    g = lamia_groups
    where: list[sa.ColumnElement[bool]] = []
    if tags:
        where.append(_tag_filter(tags))
    if username is not None:
        where.append(g.c.username == username)
    if search:
        where.append(g.c.name.contains(search, autoescape=True))
    total = conn.execute(sa.select(sa.func.count()).select_from(g).where(*where)).scalar_one()
    column = TASK_ORDER[order] if order else g.c.created_seq
    keys = (column.desc(), g.c.name.desc()) if descending else (column.asc(), g.c.name.asc())
    query = sa.select(g).where(*where).order_by(*keys).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return conn.execute(query).all(), total


def tasks_v0(
    conn: sa.Connection, rows: Sequence[Any], *, now: float, stale_after: float
) -> list[dict[str, Any]]:
    names = [r.name for r in rows]
    procs = _processes_of(conn, names)
    stale = _stale_counts(conn, names, now - stale_after)
    return [task_v0(r, procs[r.name], stale) for r in rows]


def get_process(
    conn: sa.Connection, task: str, proc: str, *, now: float, stale_after: float
) -> dict[str, Any] | None:
    p = lamia_processes
    row = conn.execute(sa.select(p).where(p.c.task == task, p.c.name == proc)).first()
    if row is None:
        return None
    stale = _stale_counts(conn, [task], now - stale_after)
    return process_v0(row, stale.get((task, proc), 0))


def processes_with_class(
    conn: sa.Connection, task: str, event_class: str | None, *, now: float, stale_after: float
) -> list[dict[str, Any]]:
    """The processes of ``task`` (only those with an event of ``event_class``, if given)."""
    p, e = lamia_processes, lamia_events
    query = sa.select(p).where(p.c.task == task)
    if event_class is not None:
        having = sa.select(e.c.proc).where(e.c.task == task, e.c.event_class == event_class)
        query = query.where(p.c.name.in_(having))
    rows = conn.execute(query.order_by(p.c.position)).all()
    stale = _stale_counts(conn, [task], now - stale_after)
    return [process_v0(r, stale.get((task, r.name), 0)) for r in rows]


def event_v0(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "taskID": row.task,
        "procID": row.proc,
        "procNumInArray": _index_out(row.idx),
        "eventClass": row.event_class,
        "payload": loads(row.payload),
        "progress": _amount(row.progress),
        "sentAt": iso(row.sent_at),
        "receivedAt": iso(row.received_at),
        "hostname": row.host,
        "clientIP": row.client_ip,
    }


def list_events(
    conn: sa.Connection,
    task: str,
    proc: str,
    *,
    index: int | None = None,
    event_class: str | None = None,
    host: str | None = None,
    ip: str | None = None,
    order: str | None = None,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
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
    column = EVENT_ORDER[order] if order else e.c.id
    keys = (column.desc(), e.c.id.desc()) if descending else (column.asc(), e.c.id.asc())
    query = sa.select(e).where(*where).order_by(*keys).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [event_v0(r) for r in conn.execute(query)], total


def get_event(
    conn: sa.Connection, task: str, proc: str, event_id: int, index: int | None = None
) -> dict[str, Any] | None:
    e = lamia_events
    where = [e.c.id == event_id, e.c.task == task, e.c.proc == proc]
    if index is not None:
        where.append(e.c.idx == index)
    row = conn.execute(sa.select(e).where(*where)).first()
    return None if row is None else event_v0(row)


# --- /api/v1/groups ------------------------------------------------------------------------


def group_summary(row: Any, procs: Sequence[Any], stale: dict[tuple[str, str], int]) -> dict:
    progress, enough = _overall(procs)
    updated, events = _activity(row, procs)
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
        "threshold": _amount(row.threshold),
        "tolerance": row.tolerance,
        "last_event_class": row.last_class,
        "last_event_at": iso(row.last_event_at),
        "events": row.events,
        "done_jobs": row.done_jobs,
        "jobs_with_progress": row.valued_jobs,
        "progress": _round(row.progress),
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
        order="createdAt",
        descending=True,
        offset=offset,
        limit=limit,
    )
    names = [r.name for r in rows]
    procs = _processes_of(conn, names)
    stale = _stale_counts(conn, names, now - stale_after)
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
    row = conn.execute(sa.select(lamia_groups).where(lamia_groups.c.name == name)).first()
    if row is None:
        return None
    cutoff = now - stale_after
    procs = _processes_of(conn, [name])[name]
    stale = _stale_counts(conn, [name], cutoff)
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
                "first_index": None if shape.first is None else _index_out(shape.first),
                "last_index": None if shape.last is None else _index_out(shape.last),
                "slots": slots.get(p.name, []),
                "history": [
                    {"ts": iso(pt.ts), "progress": _round(pt.progress), "enough": bool(pt.enough)}
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


def latest_events(conn: sa.Connection, task: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest events of every process of ``task``, newest first."""
    e = lamia_events
    query = sa.select(e).where(e.c.task == task).order_by(e.c.id.desc()).limit(limit)
    return [event_v0(r) for r in conn.execute(query)]


def _slot(job: Any, cutoff: float) -> dict[str, Any]:
    index = _index_out(job.idx)
    return {
        "index": index,
        "task_id": job_id(job.task, job.proc, index),
        "last_event_class": job.last_class,
        "status": job.status,
        "value": _amount(job.value),
        "host": job.host,
        "first_event_at": iso(job.first_at),
        "last_event_at": iso(job.last_at),
        "events": job.events,
        "stale": job.status == "running" and job.last_at < cutoff,
    }
