"""The command queue of the embedded controller (commands for agents and their results) and
the agents' own tokens, each bound to one agent.

Revision ID: 0013_commands
Revises: 0012_metrics
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_commands"
down_revision = "0012_metrics"
branch_labels = None
depends_on = None

BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("seq", BigKey, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("gid", sa.BigInteger, nullable=False),
        sa.Column("nid", sa.BigInteger, nullable=False),
        sa.Column("cmd", sa.String(100), nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("input", sa.Text, nullable=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("level", sa.Integer, nullable=True),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("starttime", sa.BigInteger, nullable=True),
        sa.Column("time", sa.BigInteger, nullable=True),
        sa.Column("submitted", sa.Double, nullable=False),
        sa.Column("expires", sa.Double, nullable=False),
        sa.Column("sent_by", sa.String(100), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
    )
    op.create_index("ix_commands_id", "commands", ["id"], unique=True)
    op.create_index("ix_commands_agent", "commands", ["gid", "nid", "state", "seq"])
    op.create_index("ix_commands_state_expires", "commands", ["state", "expires"])
    op.create_table(
        "agent_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("gid", sa.BigInteger, nullable=False),
        sa.Column("nid", sa.BigInteger, nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("revoked", sa.Double, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("agent_tokens")
    op.drop_table("commands")
