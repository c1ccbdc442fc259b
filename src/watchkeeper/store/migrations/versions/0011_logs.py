"""The logs view (log records forwarded by node agents) and the programs view (what agents
report of their programs, and every run's exit code).

Both are folded from events the log may already hold (``log.record``, an agent's heartbeats,
its runs' final statuses), so a database that holds such events is rebuilt once on the next
start.

Revision ID: 0011_logs
Revises: 0009_views_rebuild
Create Date: 2026-11-30
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0011_logs"
down_revision = "0009_views_rebuild"
branch_labels = None
depends_on = None

Time = sa.Double
BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REASON = "0011_logs: log records, programs and their runs"
#: Whether the log holds anything the new views fold: only then is a rebuild worth its time.
FOLDED = """
SELECT 1 FROM events WHERE kind = 'log.record'
   OR (kind IN ('component.state', 'task.status')
       AND (body LIKE '%"programs"%' OR body LIKE '%"exit_code"%'))
LIMIT 1
"""


def upgrade() -> None:
    op.create_table(
        "log_records",
        sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("job", sa.String(200)),
        sa.Column("domain", sa.String(200)),
        sa.Column("name", sa.String(200)),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("epoch", Time, nullable=False),
        sa.Column("rid", sa.BigInteger),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_log_records_epoch", "log_records", ["epoch", "seq"])
    op.create_index("ix_log_records_agent_epoch", "log_records", ["agent", "epoch"])
    op.create_index("ix_log_records_job_epoch", "log_records", ["job", "epoch"])
    op.create_index("ix_log_records_severity_epoch", "log_records", ["severity", "epoch"])
    op.create_table(
        "agent_programs",
        sa.Column("agent", sa.String(200), primary_key=True),
        sa.Column("domain", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(64)),
        sa.Column("pid", sa.BigInteger),
        sa.Column("runs", sa.BigInteger),
        sa.Column("restarts", sa.BigInteger),
        sa.Column("task", sa.String(200)),
        sa.Column("exit_code", sa.BigInteger),
        sa.Column("stats", sa.Text),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_table(
        "program_runs",
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("agent", sa.String(200)),
        sa.Column("domain", sa.String(200)),
        sa.Column("name", sa.String(200)),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("exit_code", sa.BigInteger),
        sa.Column("reason", sa.Text),
        sa.Column("ts", Time, nullable=False),
    )
    op.create_index("ix_program_runs_agent_ts", "program_runs", ["agent", "ts"])
    if op.get_bind().execute(sa.text(FOLDED)).first() is not None:
        table = sa.table("views_rebuild", sa.column("reason"), sa.column("requested_at"))
        op.bulk_insert(table, [{"reason": REASON, "requested_at": time.time()}])


def downgrade() -> None:
    op.drop_table("program_runs")
    op.drop_table("agent_programs")
    op.drop_table("log_records")
