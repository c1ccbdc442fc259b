"""Migration 0008 clears the threshold amount of ``[nJobs, needed]`` processes and recomputes
their progress as the view now folds it; the downgrade puts the old reading back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from watchkeeper.store import db

INSERT = (
    "INSERT INTO lamia_processes (task, name, position, n_jobs, threshold, tolerance, events,"
    " done_jobs, valued_jobs, value_sum, progress, enough) VALUES"
    " ('t', 'needed', 0, 10, 8, 8, 1, 0, 1, 50, 625, :yes),"
    " ('t', 'done', 1, 10, 8, 8, 2, 2, 0, 0, 25, :no),"
    " ('t', 'amount', 2, 3, 1000, NULL, 1, 0, 1, 250, 25, :no)"
)


def rows(engine: sa.Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        query = "SELECT name, threshold, progress, enough FROM lamia_processes"
        return {r[0]: (r[1], r[2], bool(r[3])) for r in conn.execute(sa.text(query))}


def test_needed_jobs_stop_being_a_threshold_amount(db_url):
    engine = db.make_engine(db_url, writer=True)
    try:
        db.upgrade(engine, "0007_truthful_views")
        with engine.begin() as conn:
            conn.execute(sa.text(INSERT), {"yes": True, "no": False})
        db.upgrade(engine, "0008_lamia_compat")
        assert rows(engine) == {
            "needed": (None, 6.25, False),  # 50 % of one of the 8 jobs needed
            "done": (None, 25.0, False),
            "amount": (1000.0, 25.0, False),
        }
        cfg = db.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007_truthful_views")
        assert rows(engine) == {
            "needed": (8.0, 625.0, True),
            "done": (8.0, 25.0, False),
            "amount": (1000.0, 25.0, False),
        }
    finally:
        engine.dispose()
