"""The KPIs and Inputs pages follow the log files without a reload."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import save_screenshot
from tests.fault.test_kpi_shutdown import config
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def append(log: Path, count: int, start: float) -> None:
    with log.open("a") as fh:
        for n in range(count):
            fh.write(
                json.dumps(
                    {
                        "level": "info",
                        "ts": start + n,
                        "msg": "handled request",
                        "request": {"host": "nomad.test", "uri": "/", "method": "GET"},
                        "status": 200,
                    }
                )
                + "\n"
            )


@pytest.fixture
def kpi_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    log = tmp_path / "caddy_access_logs.json"
    append(log, 10, time.time() - 5)  # this hour only: no KPI yet
    toml = config(tmp_path, checkpoint=0.3)
    server = ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", args=["--config", str(toml)])
    server.start()
    yield server, log
    server.stop()


def test_kpi_and_inputs_pages_are_live(kpi_server, page) -> None:  # type: ignore[no-untyped-def]
    server, log = kpi_server
    page.goto(f"{server.url}/inputs")
    page.wait_for_selector("#live-status[data-state=on]")
    page.evaluate("window.notReloaded = true")
    append(log, 5, time.time() - 2)
    page.wait_for_function(
        "() => document.querySelector('[data-input=caddy]')?.textContent.includes('15')",
        timeout=15_000,
    )
    assert page.evaluate("window.notReloaded") is True
    page.goto(f"{server.url}/kpis")
    page.wait_for_selector("#live-status[data-state=on]")
    assert "No KPI yet" in page.inner_text("#kpis")
    page.evaluate("window.notReloaded = true")
    append(log, 7, time.time() - 2 * 3600)  # an hour already complete
    page.wait_for_selector('#kpi-popularity [data-package="Nomad"]', timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    save_screenshot(page, "kpis", docs=True)
