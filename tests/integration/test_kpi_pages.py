"""The KPIs and Inputs pages, rendered from the same views the API reads."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.conftest import make_client
from tests.integration.test_kpis_api import wait_for
from tests.integration.test_tailing import PACKAGES, caddy_file


def test_kpi_and_input_pages(sqlite_url: str, tmp_path: Path) -> None:
    log, packages = tmp_path / "caddy_access_logs.json", tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    caddy_file(log, 4_000, start=int(time.time()) - 3 * 3600)
    inputs = ({"id": "caddy", "paths": [str(log)], "format": "caddy"},)
    kpis = {"packages": str(packages), "checkpoint_seconds": 0.2}
    with make_client(sqlite_url, inputs=inputs, kpis=kpis) as client:
        empty = client.get("/kpis?kind=W").text
        wait_for(lambda: client.get("/api/v1/aggregations").json()["aggregations"])
        assert "No KPI yet" in empty or "Package popularity" in empty
        page = client.get("/kpis?kind=D")
        assert page.status_code == 200
        assert 'data-live-kinds="kpi.delta"' in page.text
        assert re.search(r'data-package="Nomad">\d+<', page.text)
        assert 'data-kpi="2004"' in page.text and "Total usage over time" in page.text
        day = client.get("/api/v1/aggregations/D").json()["valuesAvailable"][-1]
        uptime = client.get("/api/v1/kpis/2004/values", params={"agg_kind": "D", "agg_value": day})
        assert f'data-kpi="2004">{uptime.json()["value"]["nbMinutesOn"]}<' in page.text
        assert client.get("/kpis?kind=Q").status_code == 422
        wait_for(lambda: "4000" in client.get("/partials/inputs").text)
        inputs_page = client.get("/inputs").text
        assert str(log) in inputs_page and 'data-input="caddy"' in inputs_page
