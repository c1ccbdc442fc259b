"""Views built before 0007 and 0008 are rebuilt once, on the next start.

``0007_truthful_views`` counts failed tasks apart from aborted ones and records the silences
between pings; ``0008_lamia_compat`` folds ``[nJobs, needed]`` progress differently. Views built
by an older version hold neither, and only a replay of the log can fill them in. This revision
adds ``views_rebuild``, the rebuilds requested of the server, and requests one when the log
already holds events (a new database has nothing to rebuild); the server (or
``watchkeeper db upgrade``) replays the log once and clears the request.

Revision ID: 0009_views_rebuild
Revises: 0008_lamia_compat
Create Date: 2026-11-30
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0009_views_rebuild"
down_revision = "0008_lamia_compat"
branch_labels = None
depends_on = None

REASON = "0007_truthful_views, 0008_lamia_compat: failed apart from aborted, silences, job progress"


def upgrade() -> None:
    table = op.create_table(
        "views_rebuild",
        sa.Column("reason", sa.String(200), primary_key=True),
        sa.Column("requested_at", sa.Double, nullable=False),
    )
    has_events = op.get_bind().execute(sa.text("SELECT 1 FROM events LIMIT 1")).first()
    if has_events is not None:
        op.bulk_insert(table, [{"reason": REASON, "requested_at": time.time()}])


def downgrade() -> None:
    op.drop_table("views_rebuild")
