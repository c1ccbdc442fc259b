"""Views built by an older version are rebuilt once after an upgrade that changed how they
fold (migration 0009 asks for it when the log holds events); a new database is not rebuilt."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import sqlalchemy as sa
from alembic import command

from watchkeeper.events.decode import decode_events
from watchkeeper.store import db
from watchkeeper.store.rebuild import heal, requested
from watchkeeper.store.writer import commit_batches
from watchkeeper.views import ALL_VIEWS

BEFORE = "0008_lamia_compat"
EVENTS = [
    {"kind": "task.status", "task": "t1", "status": "running", "agent": "a1", "ts": 1714557600},
    {"kind": "task.status", "task": "t1", "status": "failed", "agent": "a1", "ts": 1714557610},
    {"kind": "task.status", "task": "t2", "status": "running", "agent": "a1", "ts": 1714557600},
    {"kind": "task.status", "task": "t2", "status": "finished", "agent": "a1", "ts": 1714557620},
]


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = db.make_engine(db_url, writer=True)
    yield eng
    eng.dispose()


def counts(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT tasks_finished, tasks_failed FROM components WHERE id = 'a1'")
        ).one()
    return row[0], row[1]


def downgrade(engine: sa.Engine, revision: str) -> None:
    cfg = db.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_an_upgrade_rebuilds_views_an_older_version_built(engine):
    db.upgrade(engine)
    batch = decode_events(orjson.dumps(EVENTS), "application/json")
    results, _ = commit_batches(engine, ALL_VIEWS, [batch])
    assert not any(isinstance(r, Exception) for r in results)
    assert counts(engine) == (1, 1)
    # As an older version left it: before 0009, with the failed task not counted.
    downgrade(engine, BEFORE)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE components SET tasks_failed = 0 WHERE id = 'a1'"))
    assert counts(engine) == (1, 0)

    db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(requested)).scalar_one() == 1
    assert heal(engine, ALL_VIEWS) == len(EVENTS)
    assert counts(engine) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(requested)).scalar_one() == 0
    assert heal(engine, ALL_VIEWS) is None  # once


def test_a_new_database_is_not_rebuilt(engine):
    db.upgrade(engine)
    assert heal(engine, ALL_VIEWS) is None
