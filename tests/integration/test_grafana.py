"""contrib/grafana: the provisioning files and the dashboard hold together, and every query
names a metric watchkeeper exports or an endpoint that answers with the fields it reads."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_client
from tests.fleet import HISTORY

GRAFANA = Path(__file__).resolve().parents[2] / "contrib" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "watchkeeper.json").read_text())
SOURCES = yaml.safe_load((GRAFANA / "provisioning/datasources/watchkeeper.yaml").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
TARGETS = [t for p in PANELS for t in p["targets"]]
#: The fleet's history (tests/fleet.py) lies in this window, in Grafana's milliseconds.
WINDOW = {"${__from}": "1714554000000", "${__to}": "1714564800000"}


def test_provisioning_files_load():
    sources = {s["uid"]: s["type"] for s in SOURCES["datasources"]}
    assert sources == {
        "watchkeeper-prometheus": "prometheus",
        "watchkeeper-api": "yesoreyeram-infinity-datasource",
    }
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/watchkeeper.yaml").read_text())
    assert providers["apiVersion"] == 1 and providers["providers"][0]["type"] == "file"


def test_the_dashboard_is_well_formed():
    uids = {s["uid"] for s in SOURCES["datasources"]}
    assert DASHBOARD["uid"] == "watchkeeper" and DASHBOARD["schemaVersion"] >= 36
    ids = [p["id"] for p in PANELS]
    assert len(ids) == len(set(ids))
    for p in DASHBOARD["panels"]:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0
    for p in PANELS:
        assert p["datasource"]["uid"] in uids and p["targets"]
        assert all(t["datasource"]["uid"] in uids for t in p["targets"])
    titles = {p["title"] for p in PANELS}
    # The four charts, the waterfall as a state timeline.
    assert {
        "Task waterfall",
        "Aborted tasks",
        "Tasks processed per agent",
        "Component status",
    } <= titles
    assert next(p for p in PANELS if p["title"] == "Task waterfall")["type"] == "state-timeline"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with make_client(f"sqlite:///{tmp_path_factory.mktemp('grafana') / 'wk.db'}") as client:
        now = time.time()
        client.post("/api/v1/events", json=HISTORY)
        client.post("/api/v1/events", json={"kind": "incident", "agent": "777", "message": "now"})
        recent = [("created", 30), ("running", 20), ("finished", 0)]
        client.post(
            "/api/v1/events",
            json=[
                {
                    "kind": "task.status",
                    "task": "recent",
                    "status": s,
                    "agent": "777",
                    "ts": now - ago,
                }
                for s, ago in recent
            ],
        )
        client.post(
            "/api/v1/events",
            json={
                "kind": "metric.series",
                "agent": "1.7",
                "ts": now,
                "series": [["1.7.site.web.cpu", 3], ["1.7.site.web.rss", 4096], ["m", 1]],
            },
        )
        yield client


def test_every_prometheus_query_names_an_exported_metric(served):
    text = served.get("/metrics").text
    exported = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    exprs = [t["expr"] for t in TARGETS if "expr" in t]
    assert exprs
    for expr in exprs:
        names = set(re.findall(r"\bwatchkeeper_[a-z_]+\b", expr))
        assert names, expr
        assert names <= exported, f"{expr}: {names - exported} not exported"


def resolve(answer, selector: str):
    for part in filter(None, selector.split(".")):
        answer = answer[int(part)] if isinstance(answer, list) else answer[part]
    return answer


def test_every_api_query_answers_with_its_columns(served):
    queries = [t for t in TARGETS if "url" in t]
    queries.append(DASHBOARD["templating"]["list"][0]["query"])
    assert len(queries) >= 6
    for query in queries:
        params = {
            p["key"]: WINDOW.get(p["value"], "m" if p["value"] == "${series}" else p["value"])
            for p in query["url_options"]["params"]
        }
        if query["url"] == "/api/v1/metrics/series":
            params = {"name": "m", "since": "-1h"}
        r = served.get(query["url"], params=params)
        assert r.status_code == 200, (query["url"], r.text)
        rows = resolve(r.json(), query.get("root_selector", ""))
        assert isinstance(rows, list) and rows, query["url"]
        for column in query["columns"]:
            assert column["selector"] in rows[0], (query["url"], column["selector"])
