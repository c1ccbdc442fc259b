"""The task-groups view's tables: a Lamia task is a *group*; its processes are solitary jobs
or job arrays; a job is one slot of a process (``idx`` is the array index, :data:`SOLITARY` for
a solitary job). ``lamia_progress`` keeps every change of a process's progress, for charts."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.store.tables import BigKey, Time, metadata

#: The array index of a solitary job.
SOLITARY = -1

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


def idx(index: int | None) -> int:
    """The stored index of a job addressed by ``index`` (``None`` for a solitary job)."""
    return SOLITARY if index is None else index


def index_out(stored: int) -> int | None:
    """A stored index as the API shows it (``None`` for a solitary job)."""
    return None if stored == SOLITARY else stored


def fits(n_jobs: int | None, index: int | None) -> bool:
    """Whether ``index`` addresses a job of a process of ``n_jobs`` (Lamia took 0 to nJobs)."""
    if n_jobs is None:
        return index is None
    return index is not None and 0 <= index <= n_jobs
