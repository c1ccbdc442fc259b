"""Task groups: Lamia tasks, processes, jobs, events and progress history.

Revision ID: 0002_lamia
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_lamia"
down_revision = "0001"
branch_labels = None
depends_on = None

Time = sa.Double
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lamia_groups",
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
    )
    op.create_index("ix_lamia_groups_created_seq", "lamia_groups", ["created_seq"])

    op.create_table(
        "lamia_group_tags",
        sa.Column("task", sa.String(100), primary_key=True),
        sa.Column("tag", sa.String(200), primary_key=True),
    )
    op.create_index("ix_lamia_group_tags_tag", "lamia_group_tags", ["tag"])

    op.create_table(
        "lamia_processes",
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

    op.create_table(
        "lamia_jobs",
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

    op.create_table(
        "lamia_events",
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
    )
    op.create_index("ix_lamia_events_job", "lamia_events", ["task", "proc", "idx", "id"])
    op.create_index("ix_lamia_events_class", "lamia_events", ["task", "event_class", "proc"])

    op.create_table(
        "lamia_progress",
        sa.Column("task", sa.String(100), primary_key=True),
        sa.Column("proc", sa.String(80), primary_key=True),
        sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
        sa.Column("ts", Time, nullable=False),
        sa.Column("progress", sa.Double, nullable=False),
        sa.Column("enough", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "lamia_progress",
        "lamia_events",
        "lamia_jobs",
        "lamia_processes",
        "lamia_group_tags",
        "lamia_groups",
    ):
        op.drop_table(table)
