"""The event log and the task, component and incident views.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Time = sa.Double
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(200)),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("ts", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("source", sa.String(200)),
        sa.Column("subject", sa.String(200)),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_events_event_id", "events", ["event_id"], unique=True)
    op.create_index("ix_events_kind_seq", "events", ["kind", "seq"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("producer", sa.String(200)),
        sa.Column("agent", sa.String(200)),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("last_seq", BigKey, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
    )
    op.create_index("ix_tasks_status_updated", "tasks", ["status", "updated_at"])
    op.create_index("ix_tasks_agent", "tasks", ["agent"])
    op.create_index("ix_tasks_producer", "tasks", ["producer"])
    op.create_index("ix_tasks_updated", "tasks", ["updated_at"])

    op.create_table(
        "task_history",
        sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
        sa.Column("task_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("ts", Time, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("agent", sa.String(200)),
        sa.Column("producer", sa.String(200)),
    )
    op.create_index("ix_task_history_task_ts", "task_history", ["task_id", "ts"])
    op.create_index("ix_task_history_ts", "task_history", ["ts"])

    op.create_table(
        "components",
        sa.Column("type", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(64)),
        sa.Column("state_since", Time),
        sa.Column("first_seen", Time, nullable=False),
        sa.Column("last_seen", Time, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("loc", sa.String(500)),
        sa.Column("pings", sa.Text, nullable=False),
        sa.Column("tasks_finished", sa.Integer, nullable=False),
        sa.Column("tasks_aborted", sa.Integer, nullable=False),
        sa.Column("incidents", sa.Integer, nullable=False),
    )
    op.create_index("ix_components_last_seen", "components", ["last_seen"])

    op.create_table(
        "component_spans",
        sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("cid", sa.String(200), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("start", Time, nullable=False),
        sa.Column("end", Time),
    )
    op.create_index("ix_component_spans_component", "component_spans", ["type", "cid", "start"])
    op.create_index("ix_component_spans_start", "component_spans", ["start"])

    op.create_table(
        "incidents",
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
    )
    op.create_index("ix_incidents_agent_ts", "incidents", ["agent", "ts"])
    op.create_index("ix_incidents_task", "incidents", ["task_id"])
    op.create_index("ix_incidents_ts", "incidents", ["ts"])
    op.create_index("ix_incidents_fingerprint", "incidents", ["fingerprint"])


def downgrade() -> None:
    for table in ("incidents", "component_spans", "components", "task_history", "tasks", "events"):
        op.drop_table(table)
