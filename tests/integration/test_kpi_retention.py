"""Retention (7 days, 4 weeks, 12 months, all years; records one year) over 400 days of
lines, and a rebuild from the log giving the same KPIs, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from tests.integration.test_tailing import PACKAGES
from watchkeeper.inputs.backfill import backfill
from watchkeeper.store import db, rebuild
from watchkeeper.views import ALL_VIEWS, kpis
from watchkeeper.views import inputs as inputs_view
from watchkeeper.views.kpi_defs import records

START = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())


def test_retention_and_rebuild(db_url: str, tmp_path: Path) -> None:
    log, packages = tmp_path / "access.json", tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    with log.open("w") as fh:
        for n in range(400 * 4):  # one request every 6 hours for 400 days
            fh.write(json.dumps({
                "level": "info", "ts": START + n * 6 * 3600 + 60, "msg": "handled request",
                "request": {"host": "nomad.test", "uri": "/", "method": "GET"}, "status": 200,
            }) + "\n")  # fmt: skip
    assert backfill([str(log)], url=db_url, packages=str(packages), checkpoint_lines=97) == 1600
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            found = kpis.aggregations(conn)
            latest = kpis.latest_hour(conn)
            oldest = conn.execute(sa.select(sa.func.min(records.c.hour))).scalar_one()
            before = conn.execute(sa.select(kpis.values).order_by(*kpis.values.c)).all()
        by_kind: dict[str, list[str]] = {}
        for item in found:
            by_kind.setdefault(item["kind"], []).append(item["value"])
        # The latest hour (2024-02-04 18:00) is still open: its day's KPIs wait for it.
        assert latest == START + 1599 * 6 * 3600
        assert by_kind["D"] == [f"2024-01-{d}" for d in range(29, 32)] + [
            f"2024-02-0{d}" for d in range(1, 5)
        ]
        assert by_kind["W"] == ["2024 W02", "2024 W03", "2024 W04", "2024 W05"]
        assert len(by_kind["M"]) == 12 and by_kind["M"][-1] == "2024-02"
        assert by_kind["Y"] == ["2023", "2024"]
        assert oldest >= latest - 366 * 86400
        # The yearly value of 2023 was made before the records of its first days went.
        with engine.connect() as conn:
            year = kpis.value(conn, 2001, "Y", "2023")
        assert year == {"items": [{"package": "Nomad", "visits": 365 * 4}], "totalVisits": 1460}
        rebuild.rebuild(engine, ALL_VIEWS)
        with engine.connect() as conn:
            after = conn.execute(sa.select(kpis.values).order_by(*kpis.values.c)).all()
        assert after == before
    finally:
        engine.dispose()


def request_line(ts: float) -> str:
    return json.dumps({
        "level": "info", "ts": ts, "msg": "handled request",
        "request": {"host": "nomad.test", "uri": "/", "method": "GET"}, "status": 200,
    }) + "\n"  # fmt: skip


def test_a_line_from_a_clock_far_ahead_moves_nothing(db_url: str, tmp_path: Path) -> None:
    import time

    log, packages = tmp_path / "access.json", tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    real = [START + n * 6 * 3600 + 60 for n in range(4 * 10)]  # ten days of 2023
    # The box came back with its clock 30 days ahead for one line, then was set right.
    bogus = time.time() + 30 * 86400
    log.write_text("".join(request_line(ts) for ts in real[:20] + [bogus] + real[20:]))
    assert backfill([str(log)], url=db_url, packages=str(packages), checkpoint_lines=7) == 41
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            latest = kpis.latest_hour(conn)
            days = [a["value"] for a in kpis.aggregations(conn) if a["kind"] == "D"]
            report = inputs_view.report(conn)["tail"]
            visits = kpis.value(conn, 2001, "Y", "2023")
    finally:
        engine.dispose()
    assert latest == real[-1] // 3600 * 3600
    assert days == [f"2023-01-{d:02}" for d in range(4, 11)]
    assert visits == {"items": [{"package": "Nomad", "visits": 39}], "totalVisits": 39}
    assert report["files"][0]["parseErrors"] == 1
    (sample,) = report["errorSamples"]
    assert "ahead of the server's clock" in sample["reason"]
    assert sample["offset"] == sum(len(request_line(ts)) for ts in real[:20])

    # Allowed a skew past it, the same line becomes "now": every day is out of retention.
    url = f"sqlite:///{tmp_path / 'trusting.db'}"
    backfill([str(log)], url=url, packages=str(packages), max_skew=60 * 86400)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            assert kpis.latest_hour(conn) == int(bogus) // 3600 * 3600
            assert not [a for a in kpis.aggregations(conn) if a["kind"] == "D"]
    finally:
        engine.dispose()
