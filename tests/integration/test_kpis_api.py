"""The server follows a configured Caddy log; KPIs and inputs answer in offspot's shapes."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import make_client
from tests.integration.test_tailing import PACKAGES, caddy_file


def wait_for(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_server_tails_and_answers_kpis(db_url: str, tmp_path: Path) -> None:
    log, packages = tmp_path / "caddy_access_logs.json", tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    # Recent lines: the server's own clock ticks make now the latest hour (retention).
    caddy_file(log, 5_000, start=int(time.time()) - 3 * 3600)
    with open(log, "a") as fh:
        fh.write("not json\n")
    inputs = ({"id": "caddy", "type": "file", "paths": [str(tmp_path / "caddy_access_logs*.json")],
               "format": "caddy"},)  # fmt: skip
    kpis = {"packages": str(packages), "checkpoint_seconds": 0.2}
    with make_client(db_url, inputs=inputs, kpis=kpis) as client:
        found = wait_for(lambda: client.get("/api/v1/aggregations").json()["aggregations"])
        assert {"kind": "Y", "value": time.strftime("%Y", time.gmtime())} in found
        wait_for(lambda: client.get("/api/v1/inputs").json()["inputs"][0]["parseErrors"] == 1)
        state = client.get("/api/v1/inputs").json()["inputs"][0]
        assert state["id"] == "caddy" and state["running"] is True
        assert state["committed"]["files"][0]["lines"] == 5_001
        assert state["committed"]["errorSamples"][0]["reason"] == "not JSON"
        day = client.get("/api/v1/aggregations/D").json()
        assert day["aggKind"] == "D" and day["valuesAvailable"]
        assert {k["kpiId"] for k in day["kpis"]} == {2001, 2002, 2003, 2004, 2005}
        value = day["valuesAvailable"][0]
        got = client.get("/api/v1/kpis/2001/values", params={"agg_kind": "D", "agg_value": value})
        assert got.status_code == 200
        assert got.json()["kpiId"] == 2001
        assert {i["package"] for i in got.json()["value"]["items"]} == {"Wiki", "Nomad"}
        missing = client.get(
            "/api/v1/kpis/2001/values", params={"agg_kind": "D", "agg_value": "1999-01-01"}
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "KPI not found"
        bad = client.get("/api/v1/aggregations/X")
        assert bad.status_code == 422
