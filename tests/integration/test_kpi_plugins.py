"""Indicators and KPIs added by an installed package, through their entry point groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.test_tailing import PACKAGES
from watchkeeper.inputs import indicators
from watchkeeper.inputs.backfill import backfill
from watchkeeper.store import db
from watchkeeper.views import kpis

PLUGIN = '''
import sqlalchemy as sa
from watchkeeper.views.kpi_defs import records

class NotFound:
    """Requests answered 404, per package."""
    id = 1500
    rule = "sum"
    def observe(self, obs):
        if obs.what == "request" and obs.line.status == 404:
            yield (obs.package, ""), 1

class NotFoundKpi:
    id = 2500
    def compute(self, conn, start, stop):
        r = records.c
        total = conn.execute(sa.select(sa.func.sum(r.value)).where(
            r.indicator_id == 1500, r.hour >= start, r.hour < stop)).scalar_one()
        return {"notFound": int(total or 0)}
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    dist = site / "wk_notfound-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "wk_notfound.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wk-notfound\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[watchkeeper.indicators]\nnotfound = wk_notfound:NotFound\n\n"
        "[watchkeeper.kpis]\nnotfound = wk_notfound:NotFoundKpi\n"
    )
    monkeypatch.syspath_prepend(str(site))
    kpis.VIEW._kpis = None  # the view loads its KPIs once per process
    yield
    kpis.VIEW._kpis = None


def test_an_installed_indicator_and_kpi(plugin: None, sqlite_url: str, tmp_path: Path) -> None:
    assert 1500 in [i.id for i in indicators.load()]
    log, packages = tmp_path / "access.json", tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    with log.open("w") as fh:
        for n in range(3 * 60):  # three hours, one request a minute, every third one a 404
            fh.write(
                json.dumps(
                    {
                        "level": "info",
                        "ts": 1_700_000_000 + n * 60,
                        "msg": "handled request",
                        "request": {"host": "nomad.test", "uri": "/x", "method": "GET"},
                        "status": 404 if n % 3 == 0 else 200,
                    }
                )
                + "\n"
            )
    backfill([str(log)], url=sqlite_url, packages=str(packages))
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(kpis.values.c.kpi_value).where(
                kpis.values.c.kpi_id == 2500, kpis.values.c.agg_kind == "Y"
            )
        ).scalar_one()
    engine.dispose()
    assert json.loads(value)["notFound"] > 0
