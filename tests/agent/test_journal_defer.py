"""Meta changes deferred to the next write: a run's process is recorded with the flush that
carries its start, and a run over by then costs no write."""

from __future__ import annotations

import sqlite3

from watchkeeper.agent.journal import Journal


def _meta(path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'proc:%'"))


def test_a_deferred_change_is_written_by_the_next_append(tmp_path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    journal.defer({"proc:cmd/a": {"pid": 10, "task": "t"}})
    assert journal.deferred
    assert _meta(path) == {}  # not yet: nothing was written
    assert journal.get("proc:cmd/a") == {"pid": 10, "task": "t"}  # but it is seen
    journal.append([b'{"kind":"task.status"}'])
    assert not journal.deferred
    assert _meta(path) == {"proc:cmd/a": '{"pid":10,"task":"t"}'}
    journal.close()


def test_a_run_over_before_the_flush_leaves_nothing(tmp_path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    journal.defer({"proc:cmd/short": {"pid": 11}})
    journal.defer({}, delete=["proc:cmd/short"])
    journal.append([])
    assert _meta(path) == {}
    # A deferred delete of an entry written before is made too, by a put as well.
    journal.put({"proc:cmd/long": {"pid": 12}})
    journal.defer({}, delete=["proc:cmd/long"])
    journal.put({"other": 1})
    assert _meta(path) == {}
    journal.close()
