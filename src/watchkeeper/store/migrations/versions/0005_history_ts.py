"""Drop the task history's index on time alone.

Every query over a time window of the history also names the statuses it wants (aborts,
terminal statuses), which ``ix_task_history_status_ts`` serves; the index on ``ts`` alone was
kept up to date on every status event and read by nothing.

Revision ID: 0005_history_ts
Revises: 0004_state
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005_history_ts"
down_revision = "0004_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_task_history_ts", table_name="task_history")


def downgrade() -> None:
    op.create_index("ix_task_history_ts", "task_history", ["ts"])
