"""The metrics view: series and their points at three resolutions.

A log that already holds ``metric.series`` events gets them folded by a rebuild requested here.

Revision ID: 0012_metrics
Revises: 0011_logs
Create Date: 2026-11-30
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0012_metrics"
down_revision = "0011_logs"
branch_labels = None
depends_on = None

BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("id", BigKey, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("first_ts", sa.Double, nullable=False),
        sa.Column("last_ts", sa.Double, nullable=False),
        sa.Column("last_value", sa.Double, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.UniqueConstraint("name", "agent", "tags", name="uq_metric_series_key"),
    )
    op.create_index("ix_metric_series_agent", "metric_series", ["agent"])
    op.create_index("ix_metric_series_last_ts", "metric_series", ["last_ts"])
    op.create_index("ix_metric_series_received_at", "metric_series", ["received_at"])
    op.create_table(
        "metric_points",
        sa.Column("series_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("res", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.Double, primary_key=True),
        sa.Column("sum", sa.Double, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("min", sa.Double, nullable=False),
        sa.Column("max", sa.Double, nullable=False),
    )
    op.create_index("ix_metric_points_res_ts", "metric_points", ["res", "ts"])
    bind = op.get_bind()
    has_series = bind.execute(
        sa.text("SELECT 1 FROM events WHERE kind = 'metric.series' LIMIT 1")
    ).first()
    if has_series is not None:
        rebuilds = sa.table("views_rebuild", sa.column("reason"), sa.column("requested_at"))
        op.bulk_insert(
            rebuilds, [{"reason": "0012_metrics: metric series", "requested_at": time.time()}]
        )


def downgrade() -> None:
    op.drop_table("metric_points")
    op.drop_table("metric_series")
