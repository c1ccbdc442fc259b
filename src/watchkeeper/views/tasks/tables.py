"""The tasks view's tables (see :mod:`watchkeeper.views.tasks`)."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.store.tables import BigKey, Time, metadata

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
