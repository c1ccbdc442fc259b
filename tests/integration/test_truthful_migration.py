"""Migration 0007 adds failed-task counts, silences and per-Lamia-task results to the
components view, keeps the rows already there, and takes it all away again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from watchkeeper.store import db

NEW_TABLES = {"component_silences", "component_group_results"}


def columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("components")}


def test_upgrade_keeps_components_and_downgrade_removes_what_it_added(db_url):
    engine = db.make_engine(db_url, writer=True)
    try:
        db.upgrade(engine, "0005_history_ts")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO components (type, id, first_seen, last_seen, pings, "
                    "tasks_finished, tasks_aborted, incidents) "
                    "VALUES ('agent', '7', 1, 2, '{}', 3, 4, 5)"
                )
            )
        db.upgrade(engine)
        assert {"tasks_failed", "last_ping"} <= columns(engine)
        assert set(sa.inspect(engine).get_table_names()) >= NEW_TABLES
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT tasks_finished, tasks_failed, last_ping FROM components")
            ).one()
        assert tuple(row) == (3, 0, None)

        cfg = db.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005_history_ts")
        assert not {"tasks_failed", "last_ping"} & columns(engine)
        assert not NEW_TABLES & set(sa.inspect(engine).get_table_names())
        db.upgrade(engine)
        head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
        assert db.current_revision(engine) == head
    finally:
        engine.dispose()
