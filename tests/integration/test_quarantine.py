"""A database that already holds events no date can show heals on upgrade: migration
0006_quarantine moves them aside (``watchkeeper db check`` lists them), leaves a marker at their
seq, the views are rebuilt without them once, and a rebuild never replays them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tests.conftest import make_client
from tests.fleet import HISTORY
from tests.poison import READS, YEAR_1, store_poison
from watchkeeper.events import Event, lamia
from watchkeeper.events.decode import decode_events
from watchkeeper.store import db, quarantine
from watchkeeper.store.rebuild import rebuild
from watchkeeper.store.writer import commit_batches
from watchkeeper.views import ALL_VIEWS

BEFORE = "0005_history_ts"


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = db.make_engine(db_url, writer=True)
    yield eng
    eng.dispose()


def fill_old_database(engine: sa.Engine) -> list[int]:
    """A database at the revision before the quarantine, holding good events, a Lamia task
    and poisoned events in the log and the views; returns the poisoned seqs."""
    # The views of today fill the database, which then goes back to the revision before the
    # quarantine: the later migrations' tables are what the views of today write to.
    db.upgrade(engine)
    good = decode_events(orjson.dumps(HISTORY), "application/json")
    results, _ = commit_batches(engine, ALL_VIEWS, [good, lamia_task()])
    assert all(not isinstance(r, Exception) for r in results)
    poisoned = store_poison(engine)
    cfg = db.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, BEFORE)
    return poisoned


def lamia_task() -> list[Event]:
    """The ``lamia.task.created`` event of task ``t1`` (processes ``arr`` and ``solo``)."""
    body = b'{"processes": {"arr": 5, "solo": null}}'
    return [lamia.task_created("t1", body, client_ip=None, now=1_714_557_600.0)]


def test_upgrade_moves_poison_aside_and_rebuilds_the_views(engine, db_url):
    poisoned = fill_old_database(engine)
    last = max(poisoned)
    with make_client(db_url) as client:  # the server's start upgrades and heals
        events = client.get("/api/v1/events", params={"limit": 10_000}).json()["events"]
        assert [e["seq"] for e in events] == list(range(1, last + 1))  # still gap-free
        markers = {e["seq"]: e for e in events if e["kind"] == quarantine.MARKER}
        assert sorted(markers) == poisoned
        assert {m["attrs"]["seq"] for m in markers.values()} == set(poisoned)
        assert all("outside" in m["attrs"]["reason"] for m in markers.values())
        assert all(m["level"] == "warning" and m["body"] is None for m in markers.values())
        # What only the poisoned events said is gone from every view.
        assert client.get("/api/v1/tasks/p1").status_code == 404
        assert client.get("/api/v1/agents/ag1").status_code == 404
        assert client.get("/api/v1/incidents", params={"agent": "ag1"}).json()["total"] == 0
        assert client.get("/api/v1/state").json() == {}
        assert client.get("/api/v0/t1/solo").json()["lastEventClass"] is None
        # The good events are untouched.
        assert client.get("/api/v1/tasks").json()["total"] == 3
        failed = {url: r.status_code for url in READS if (r := client.get(url)).status_code >= 500}
        assert failed == {}
        # The next event takes the next seq: no seq is ever given twice.
        ack = client.post("/api/v1/events", json={"kind": "after"}).json()
        assert ack["first_seq"] == last + 1
    with engine.connect() as conn:
        moved = quarantine.listed(conn)
        assert not quarantine.needs_rebuild(conn)
    assert [m["seq"] for m in moved] == poisoned
    by_kind = {m["kind"]: m for m in moved}
    assert by_kind["x"]["ts"] == "1e+300" and by_kind["x"]["body"] == {"sent": 1e300}
    assert by_kind["x"]["reason"] == f"ts and received_at outside {quarantine.RANGE}"
    assert by_kind["incident"]["received_at"] == repr(YEAR_1)
    assert (
        db.current_revision(engine)
        == ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    )


def test_rebuild_moves_aside_what_an_older_replica_still_wrote(engine):
    db.upgrade(engine)
    commit_batches(engine, ALL_VIEWS, [lamia_task()])
    poisoned = store_poison(engine)  # written after the migration, by an older version
    with engine.connect() as conn:
        assert quarantine.unshowable_in_log(conn) == len(poisoned)
    replayed = rebuild(engine, ALL_VIEWS)
    assert replayed == max(poisoned)  # markers are replayed (no view takes them)
    with engine.connect() as conn:
        assert quarantine.unshowable_in_log(conn) == 0
        assert [m["seq"] for m in quarantine.listed(conn)] == poisoned
        tasks = conn.execute(sa.text("SELECT id FROM tasks ORDER BY id")).scalars().all()
    assert "p1" not in tasks
    assert rebuild(engine, ALL_VIEWS) == replayed  # a second rebuild finds nothing new


def wk(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        env={**clean, "COLUMNS": "200"},
        timeout=120,
        text=True,
    )


def test_db_check_lists_the_quarantine_and_fails_while_the_log_holds_poison(tmp_path):
    path = tmp_path / "old.db"
    engine = db.make_engine(str(path), writer=True)
    try:
        poisoned = fill_old_database(engine)
        result = wk("db", "check", "--db", str(path), "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert [m["seq"] for m in report["quarantined"]] == poisoned
        assert report["unshowable_in_log"] == 0
        table = wk("db", "check", "--db", str(path))
        assert table.returncode == 0
        assert f"events moved aside ({len(poisoned)})" in table.stdout
        assert "log.quarantined" not in table.stdout and "1e+300" in table.stdout
        more = store_poison(engine)  # an older replica keeps writing
        failing = wk("db", "check", "--db", str(path))
        assert failing.returncode == 1
        assert f"{len(more)} event(s) in the log" in failing.stdout
        assert wk("db", "rebuild", "--db", str(path)).returncode == 0
        healed = json.loads(wk("db", "check", "--db", str(path), "--json").stdout)
        assert [m["seq"] for m in healed["quarantined"]] == poisoned + more
    finally:
        engine.dispose()


def test_downgrade_drops_the_table_and_keeps_the_markers(engine):
    poisoned = fill_old_database(engine)
    db.upgrade(engine)
    cfg = db.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, BEFORE)
    assert "events_quarantine" not in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        kinds = conn.execute(
            sa.text("SELECT kind FROM events WHERE seq >= :s ORDER BY seq"), {"s": poisoned[0]}
        ).scalars()
        assert set(kinds) == {quarantine.MARKER}
    db.upgrade(engine)  # nothing left to move
    with engine.connect() as conn:
        assert quarantine.listed(conn) == []
