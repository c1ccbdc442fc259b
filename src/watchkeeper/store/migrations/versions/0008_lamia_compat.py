"""Lamia processes of the list form ``[nJobs, needed]`` have no threshold amount.

Their ``needed`` (kept in ``tolerance``) was also stored as ``threshold``, so job values were
measured against a number of jobs (a job at 50 % of ``[10, 8]`` read 625 %). The threshold is
cleared and the progress recomputed the way the view now folds it: values are job percentages
against the jobs needed, and ``enough`` means that many jobs are ``DONE``. Progress history
points are recomputed by the rebuild that ``0009_views_rebuild`` asks for.

Revision ID: 0008_lamia_compat
Revises: 0007_truthful_views
Create Date: 2026-11-30
"""

from alembic import op

revision = "0008_lamia_compat"
down_revision = "0007_truthful_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE lamia_processes SET threshold = NULL,"
        " progress = CASE WHEN valued_jobs > 0 THEN value_sum / tolerance"
        " ELSE 100.0 * done_jobs / tolerance END,"
        " enough = (done_jobs >= tolerance)"
        " WHERE tolerance IS NOT NULL AND tolerance > 0"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE lamia_processes SET threshold = tolerance,"
        " progress = CASE WHEN valued_jobs > 0 THEN 100.0 * value_sum / tolerance"
        " ELSE 100.0 * done_jobs / tolerance END,"
        " enough = (CASE WHEN valued_jobs > 0 THEN value_sum ELSE done_jobs END >= tolerance)"
        " WHERE tolerance IS NOT NULL AND tolerance > 0"
    )
