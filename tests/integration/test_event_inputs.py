"""``ndjson`` and ``levels`` inputs: lines straight into the event log, each stored once even
when read again, bad lines counted and sampled."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from watchkeeper.inputs.backfill import backfill
from watchkeeper.store import db
from watchkeeper.store.tables import events
from watchkeeper.views import inputs as inputs_view


def stored(url: str) -> list[tuple[str, str]]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(events.c.kind, events.c.attrs).order_by(events.c.seq))
            return [(kind, attrs) for kind, attrs in rows if not kind.startswith("input.")]
    finally:
        engine.dispose()


def test_ndjson_lines_become_events_once(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "events.ndjson"
    lines = [
        {"kind": "task.status", "task": "t1", "status": "running", "ts": 1_700_000_000},
        {"id_agent": 7, "state": "idle", "timestamp": "2024-05-01 10:00:00.000"},
        {"kind": "task.status", "task": "t1"},  # no status: refused
    ]
    log.write_text("".join(json.dumps(item) + "\n" for item in lines) + "nope\n")
    assert backfill([str(log)], fmt="ndjson", url=sqlite_url) == 4
    first = stored(sqlite_url)
    assert [kind for kind, _ in first] == ["task.status", "component.state"]
    # Read again from the start under another input id: the lines' ids make it a no-op.
    backfill([str(log)], fmt="ndjson", url=sqlite_url, input_id="again")
    assert stored(sqlite_url) == first
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        report = inputs_view.report(conn)["tail"]
    engine.dispose()
    assert report["files"][0]["parseErrors"] == 2
    reasons = sorted(s["reason"] for s in report["errorSamples"])
    assert reasons[0] == "not JSON" and "status" in reasons[1]


def test_level_marked_lines(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("3::disk almost full\nplain output\n\n")
    assert backfill([str(log)], fmt="levels", url=sqlite_url) == 3
    records = [json.loads(attrs) for kind, attrs in stored(sqlite_url) if kind == "log.record"]
    assert len(records) == 2
