"""The command queue's writes take SQLite's lock in short steps, and give up when told."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy as sa

from watchkeeper.store import db, sqlitelock


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    found = db.make_engine(url, writer=True)
    sqlitelock.fail_fast(found)
    with found.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield found, tmp_path / "lock.db"
    found.dispose()


def _hold_lock(path, release: threading.Event) -> threading.Thread:  # type: ignore[no-untyped-def]
    held = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        other.execute("INSERT INTO t VALUES (1)")
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    return thread


def test_a_write_waits_for_the_lock_and_then_commits(engine) -> None:  # type: ignore[no-untyped-def]
    found, path = engine
    release = threading.Event()
    holder = _hold_lock(path, release)
    threading.Timer(0.05, release.set).start()
    with sqlitelock.begin(found) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    holder.join()
    with found.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT n FROM t").scalars()) == [1, 2]


def test_a_lock_held_past_patience_is_an_error_and_nothing_is_written(engine) -> None:  # type: ignore[no-untyped-def]
    found, path = engine
    release = threading.Event()
    holder = _hold_lock(path, release)
    try:
        locked = pytest.raises(sa.exc.OperationalError, match="locked")
        with locked, sqlitelock.begin(found, patience=0.02) as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (3)")
    finally:
        release.set()
        holder.join()
    with found.connect() as conn:
        assert list(conn.exec_driver_sql("SELECT n FROM t").scalars()) == [1]


def test_an_error_inside_rolls_back(engine) -> None:  # type: ignore[no-untyped-def]
    found, _ = engine
    with pytest.raises(ZeroDivisionError), sqlitelock.begin(found) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (4)")
        1 / 0  # noqa: B018
    with found.connect() as conn:
        assert list(conn.exec_driver_sql("SELECT n FROM t").scalars()) == []
