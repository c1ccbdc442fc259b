"""The local log store: rotation at a small size and queries across the files."""

from __future__ import annotations

import sqlite3

import pytest

from watchkeeper.agent.store import LogStore


def fill(store: LogStore, first: int, count: int, epoch: int, job: str = "1.7/d/n/1") -> None:
    rows = range(first, first + count)
    store.write([(i, job, "d", "n", epoch, 1 + i % 3, f"message {i} " + "x" * 200) for i in rows])


def test_rotation_at_a_small_size_and_queries_across_files(tmp_path):
    stamps = iter(range(1000, 2000))
    store = LogStore(tmp_path / "logs", rotate_bytes=64 * 1024, clock=lambda: next(stamps))
    for batch in range(20):
        fill(store, batch * 50 + 1, 50, epoch=500 + batch)
    rotated = sorted(p.name for p in (tmp_path / "logs").glob("*.db") if p.stem.isdigit())
    assert len(rotated) >= 2
    for name in rotated:
        with sqlite3.connect(tmp_path / "logs" / name) as conn:
            assert conn.execute("select count(*) from logs").fetchone()[0] > 0
    found = store.query(levels="*", limit=1000)
    assert [r.id for r in found] == list(range(1000, 0, -1))
    newest = store.query(limit=5)
    assert [r.id for r in newest] == [1000, 999, 998, 997, 996]
    early = store.query(timefrom=500, timeto=501, limit=1000)
    assert sorted(r.id for r in early) == list(range(1, 101))
    assert {r.epoch for r in early} == {500, 501}
    errors = store.query(levels="2", limit=1000)
    assert errors and all(r.level == 2 for r in errors)
    assert len(errors) == len([i for i in range(1, 1001) if 1 + i % 3 == 2])
    store.close()


def test_filters_by_job_levels_and_time(tmp_path):
    store = LogStore(tmp_path / "logs")
    store.write(
        [
            (1, "a/1", "d", "n", 10, 1, "out"),
            (2, "a/1", "d", "n", 11, 2, "err"),
            (3, "b/1", "d", "n", 12, 20, "{}"),
            (4, "a/1", "d", "n", 13, 10, "k:1|c"),
            (5, "a/1", "d", "n", 14, 9, "bad"),
        ]
    )
    assert [r.id for r in store.query(jobid="a/1")] == [5, 2, 1]  # "*" leaves statsd out
    assert [r.id for r in store.query(jobid="a/1", levels="1-10")] == [5, 4, 2, 1]
    assert [r.id for r in store.query(levels=[20, 9])] == [5, 3]
    assert [r.id for r in store.query(timefrom=11, timeto=12)] == [3, 2]
    assert store.query(jobid="zzz") == []
    assert store.query(limit=1)[0].as_dict() == {
        "id": 5,
        "jobid": "a/1",
        "domain": "d",
        "name": "n",
        "epoch": 14,
        "level": 9,
        "data": "bad",
    }


@pytest.mark.parametrize("limit", [0, 1001, -5])
def test_limit_is_at_most_1000(tmp_path, limit):
    store = LogStore(tmp_path / "logs")
    with pytest.raises(ValueError, match="limit"):
        store.query(limit=limit)


def test_last_id_survives_reopening(tmp_path):
    store = LogStore(tmp_path / "logs")
    fill(store, 1, 7, epoch=1)
    store.close()
    assert LogStore(tmp_path / "logs").last_id() == 7
