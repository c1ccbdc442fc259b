"""Failed tasks apart from aborted ones, silences between pings, Lamia results per agent.

- ``components.tasks_failed``: an agent's failed tasks, no longer counted as aborted.
- ``components.last_ping`` and ``component_silences``: when a component last pinged, and the
  silences between its pings, so the timeline can draw "no signal" where it sent nothing.
- ``component_group_results``: each agent's results from the jobs of each Lamia task, taken
  back when the task is deleted.

Existing rows get zero failed tasks and no silences: ``watchkeeper db rebuild`` recounts them
from the log.

Revision ID: 0007_truthful_views
Revises: 0005_history_ts
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_truthful_views"
down_revision = "0006_quarantine"
branch_labels = None
depends_on = None

Time = sa.Double


def upgrade() -> None:
    with op.batch_alter_table("components") as batch:
        batch.add_column(
            sa.Column("tasks_failed", sa.Integer, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("last_ping", Time))
    op.create_table(
        "component_silences",
        sa.Column("type", sa.String(100), primary_key=True),
        sa.Column("cid", sa.String(200), primary_key=True),
        sa.Column("start", Time, primary_key=True),
        sa.Column("end", Time, nullable=False),
    )
    op.create_table(
        "component_group_results",
        sa.Column("agent", sa.String(200), primary_key=True),
        sa.Column("grp", sa.String(100), primary_key=True),
        sa.Column("finished", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("aborted", sa.Integer, nullable=False),
    )
    op.create_index("ix_component_group_results_grp", "component_group_results", ["grp"])


def downgrade() -> None:
    op.drop_index("ix_component_group_results_grp", table_name="component_group_results")
    op.drop_table("component_group_results")
    op.drop_table("component_silences")
    with op.batch_alter_table("components") as batch:
        batch.drop_column("last_ping")
        batch.drop_column("tasks_failed")
