"""Inputs and KPIs: followed files' offsets and parse errors, hourly indicator records, and
the D/W/M/Y KPI values.

Revision ID: 0014_kpis
Revises: 0013_commands
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_kpis"
down_revision = "0013_commands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "input_files",
        sa.Column("input_id", sa.String(100), primary_key=True),
        sa.Column("fingerprint", sa.String(40), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("counted", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "input_errors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("input_id", sa.String(100), nullable=False, index=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
    )
    op.create_table(
        "kpi_records",
        sa.Column("indicator_id", sa.Integer, primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("value0", sa.Text, primary_key=True),
        sa.Column("value1", sa.Text, primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("bits", sa.BigInteger, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_kpi_records_hour", "kpi_records", ["hour"])
    op.create_table(
        "kpi_hours",
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("dirty", sa.Boolean, nullable=False),
    )
    op.create_table(
        "kpi_values",
        sa.Column("kpi_id", sa.Integer, primary_key=True),
        sa.Column("agg_kind", sa.String(1), primary_key=True),
        sa.Column("agg_value", sa.String(16), primary_key=True),
        sa.Column("kpi_value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("kpi_values", "kpi_hours", "kpi_records", "input_errors", "input_files"):
        op.drop_table(table)
