"""Indexes for the dashboard's chart queries.

- ``tasks.created_at``: the waterfall pages its task rows newest first.
- ``task_history (status, ts, agent)``: aborted tasks over time and tasks processed per agent
  read only terminal points of a window, and the index alone answers the per-agent counts.
- ``component_spans (type, cid, end, start, state)``: a lane's spans that end inside a recent
  window (or are still open) are found directly, and read from the index alone.

Revision ID: 0003_dashboard
Revises: 0002_lamia
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003_dashboard"
down_revision = "0002_lamia"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_created", "tasks", ["created_at"])
    op.create_index("ix_task_history_status_ts", "task_history", ["status", "ts", "agent"])
    op.create_index(
        "ix_component_spans_lane_end", "component_spans", ["type", "cid", "end", "start", "state"]
    )


def downgrade() -> None:
    op.drop_index("ix_component_spans_lane_end", table_name="component_spans")
    op.drop_index("ix_task_history_status_ts", table_name="task_history")
    op.drop_index("ix_tasks_created", table_name="tasks")
