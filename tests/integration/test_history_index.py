"""The task history's time-window queries are served by its (status, ts, agent) index.

Migration 0005 dropped the index on ``ts`` alone; these tests hold the queries that used to be
able to use it to a plan that does not scan the history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from watchkeeper.store import db
from watchkeeper.views import tasks


def captured_plan(engine: sa.Engine, run: Callable[[sa.Connection], Any]) -> str:
    """EXPLAIN QUERY PLAN of the statement ``run`` sends to SQLite."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            run(conn)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    [(statement, parameters)] = [s for s in seen if "task_history" in s[0]]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return " | ".join(row[-1] for row in rows)


def test_migration_drops_the_time_only_index(db_url):
    engine = db.make_engine(db_url, writer=True)
    try:
        db.upgrade(engine)
        names = {i["name"] for i in sa.inspect(engine).get_indexes("task_history")}
        assert "ix_task_history_ts" not in names
        assert "ix_task_history_status_ts" in names
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "query",
    [
        lambda conn: tasks.aborted_tasks(conn, 0.0, 1e10),
        lambda conn: tasks.processed_per_agent(conn, 0.0, 1e10),
    ],
    ids=["aborted", "processed-per-agent"],
)
def test_window_queries_use_the_status_index(sqlite_url, query):
    engine = db.make_engine(sqlite_url)
    try:
        db.upgrade(engine)
        plan = captured_plan(engine, query)
    finally:
        engine.dispose()
    assert "ix_task_history_status_ts" in plan, plan
    assert "SCAN task_history" not in plan, plan
