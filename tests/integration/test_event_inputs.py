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


def test_multiline_message_spans_reads_and_batches(tmp_path: Path) -> None:
    from watchkeeper.inputs.batch import Pipeline
    from watchkeeper.inputs.tail import Follower

    log = tmp_path / "job.log"
    log.write_text("2::one\n4:::report\nline a\n")
    start = len("2::one\n")
    follower = Follower([str(log)])
    follower.scan()
    pipeline = Pipeline("jobs", "levels", None, ())
    for read in follower.read():
        pipeline.feed(read)
    first = pipeline.take()
    assert [e.attrs["data"] for e in first if e.kind == "log.record"] == ["one"]
    (read_event,) = [e for e in first if e.kind == "input.read"]
    # Committed at the open message's first line: a crash now reads all of it again.
    assert read_event.attrs["files"][0]["offset"] == start
    with log.open("a") as fh:
        fh.write("\nline b\n:::\nplain\n")
    for read in follower.read():
        pipeline.feed(read)
    second = pipeline.take()
    records = [e for e in second if e.kind == "log.record"]
    assert [(e.attrs["log_level"], e.attrs["data"]) for e in records] == [
        (4, "report\nline a\n\nline b"),
        (1, "plain"),
    ]
    fp = read_event.attrs["files"][0]["fp"]
    assert records[0].event_id == f"line:{fp}:{start}"
    assert records[0].attrs["agent"] == "input:jobs" and records[0].attrs["name"] == "job.log"
    assert [e for e in second if e.kind == "input.read"][0].attrs["files"][0]["offset"] == len(
        log.read_bytes()
    )
    # Read again from the committed offset, as after a crash: the same message, same id.
    again = Follower([str(log)], {fp: (str(log), start)})
    again.scan()
    fresh = Pipeline("jobs", "levels", None, ())
    for read in again.read():
        fresh.feed(read)
    redo = [e for e in fresh.take() if e.kind == "log.record"]
    assert [(e.event_id, e.attrs["data"]) for e in redo] == [
        (e.event_id, e.attrs["data"]) for e in records
    ]


def test_unterminated_message_at_the_end_of_a_backfill(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("3::fine\n5:::never closed\nsecond line\n")
    assert backfill([str(log)], fmt="levels", url=sqlite_url) == 3
    records = [json.loads(attrs) for kind, attrs in stored(sqlite_url) if kind == "log.record"]
    assert [(r["log_level"], r["data"]) for r in records] == [
        (3, "fine"),
        (5, "never closed\nsecond line"),
    ]
    assert "not closed" in records[1]["error"] and records[0]["error"] is None
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        report = inputs_view.report(conn)["tail"]
    engine.dispose()
    (file,) = report["files"]
    assert file["parseErrors"] == 1 and file["offset"] == log.stat().st_size
    (sample,) = report["errorSamples"]
    assert "not closed" in sample["reason"] and sample["offset"] == len("3::fine\n")
    # Run again: everything was committed, nothing is read or stored twice.
    assert backfill([str(log)], fmt="levels", url=sqlite_url) == 0
    assert len([k for k, _ in stored(sqlite_url) if k == "log.record"]) == 2
