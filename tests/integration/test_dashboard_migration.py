"""Migration 0003_dashboard adds the dashboard's indexes, and takes them away again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from watchkeeper.store import db

INDEXES = {
    ("tasks", "ix_tasks_created"),
    ("task_history", "ix_task_history_status_ts"),
    ("component_spans", "ix_component_spans_lane_end"),
}


def indexes(engine: sa.Engine) -> set[tuple[str, str]]:
    inspector = sa.inspect(engine)
    return {
        (table, index["name"])
        for table in ("tasks", "task_history", "component_spans")
        for index in inspector.get_indexes(table)
    }


def test_upgrade_and_downgrade(db_url):
    engine = db.make_engine(db_url, writer=True)
    try:
        db.upgrade(engine)
        assert indexes(engine) >= INDEXES
        cfg = db.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002_lamia")
        assert not INDEXES & indexes(engine)
        db.upgrade(engine)
        assert indexes(engine) >= INDEXES
    finally:
        engine.dispose()
