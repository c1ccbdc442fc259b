"""``/metrics``: watchkeeper's own health and the fleet, bounded, stale series gone, checked by
``promtool`` and scraped by a real Prometheus."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_client
from tests.support import ServerProcess, free_port
from watchkeeper.events import Event
from watchkeeper.store import db
from watchkeeper.views import metrics as mv

FLEET = [
    {"kind": "task.status", "task": "t1", "status": "running", "agent": "1.7"},
    {"kind": "task.status", "task": "t2", "status": "finished", "agent": "1.7"},
    {"kind": "task.status", "task": "t3", "status": "finished", "agent": "1.8"},
    {"kind": "component.state", "type": "agent", "id": "1.7", "state": "busy"},
    {"kind": "component.state", "type": "agent", "id": "1.8", "state": "idle"},
    {"kind": "incident", "agent": "1.7", "message": "arm stuck", "last_state": "busy"},
    {"kind": "incident", "agent": "1.8", "message": "arm stuck", "last_state": "busy"},
]


def program_stats(now: float) -> dict:
    return {
        "kind": "metric.series",
        "agent": "1.7",
        "ts": now,
        "series": [
            ["1.7.site.web.cpu", 12.5],
            ["1.7.site.web.rss", 1048576],
            ["1.7.site.web.hits", 3, {"code": "200"}],
        ],
    }


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_own_health_and_the_fleet(sqlite_url):
    with make_client(sqlite_url) as client:
        client.post("/api/v1/events", json=FLEET)
        client.post("/api/v1/events", json=program_stats(time.time()))
        client.post("/api/v1/metrics/statsd", content=b"q.depth:4|g|#queue:mail\nlat:5|ms")
        client.portal.call(client.app.state.statsd.flush)
        got = scrape(client)
    assert got[("watchkeeper_events_committed_total", ())] == len(FLEET) + 2
    assert got[("watchkeeper_ingest_batch_events_count", ())] == 3
    assert got[("watchkeeper_ingest_batch_events_sum", ())] == len(FLEET) + 2
    assert got[("watchkeeper_commit_latency_seconds_count", ())] == 3
    assert got[("watchkeeper_writer_pending_batches", ())] == 0
    assert got[("watchkeeper_tasks", (("status", "finished"),))] == 2
    assert got[("watchkeeper_tasks", (("status", "running"),))] == 1
    assert got[("watchkeeper_agents", (("liveness", "online"), ("state", "busy")))] == 1
    incidents = [
        v for (name, _), v in got.items() if name == "watchkeeper_incident_group_incidents"
    ]
    assert incidents == [2]
    program = (("agent", "1.7"), ("program", "site.web"))
    assert got[("watchkeeper_program_cpu_percent", program)] == 12.5
    assert got[("watchkeeper_program_rss_bytes", program)] == 1048576
    assert got[("statsd_site_web_hits", (("agent", "1.7"), ("code", "200")))] == 3
    assert got[("statsd_q_depth", (("queue", "mail"),))] == 4
    assert got[("statsd_lat_count_value", ())] == 1  # a gauge may not end in _count
    assert got[("watchkeeper_statsd_lines_total", ())] == 2


def test_wait_and_run_times_of_recent_tasks_by_agent(db_url):
    now = time.time()
    steps = [("created", 40), ("running", 30), ("finished", 10)]
    events = [
        {"kind": "task.status", "task": f"k{n}", "status": s, "agent": "1.7", "ts": now - ago - n}
        for n in range(3)
        for s, ago in steps
    ]
    # Ended two hours ago: outside the distributions.
    events += [
        {"kind": "task.status", "task": "old", "status": s, "agent": "1.7", "ts": now - 7200 - ago}
        for s, ago in steps
    ]
    with make_client(db_url) as client:
        client.post("/api/v1/events", json=events)
        got = scrape(client)
    agent = ("agent", "1.7")
    assert got[("watchkeeper_task_queue_seconds_gcount", (agent,))] == 3
    assert got[("watchkeeper_task_queue_seconds_gsum", (agent,))] == pytest.approx(30)
    assert got[("watchkeeper_task_run_seconds_gsum", (agent,))] == pytest.approx(60)
    assert got[("watchkeeper_task_run_seconds_bucket", (agent, ("le", "15.0")))] == 0
    assert got[("watchkeeper_task_run_seconds_bucket", (agent, ("le", "60.0")))] == 3


def test_label_values_are_bounded(sqlite_url):
    with make_client(sqlite_url) as client:
        client.post(
            "/api/v1/events",
            json=[
                {"kind": "task.status", "task": f"t{i}", "status": f"s{i % 30}"} for i in range(60)
            ]
            + [{"kind": "task.status", "task": "x", "status": "s0"}],
        )
        got = scrape(client)
    statuses = {
        dict(labels)["status"]: v for (n, labels), v in got.items() if n == "watchkeeper_tasks"
    }
    assert len(statuses) == 21 and statuses["s0"] == 3 and statuses["other"] == 20


def test_series_no_longer_received_disappear(sqlite_url):
    with make_client(sqlite_url, metrics_stale_after=60) as client:
        now = time.time()
        client.post("/api/v1/events", json=program_stats(now))
        engine = db.make_engine(sqlite_url, writer=True)
        try:
            with engine.begin() as conn:
                attrs = {"agent": "1.9", "series": [["1.9.site.db.cpu", 80.0], ["1.9.gone", 1]]}
                # Received 61 s ago although stamped now: the agent's clock keeps nothing alive.
                old = Event(
                    "metric.series", now, "info", None, None, attrs, None, received_at=now - 61
                )
                mv.VIEW.apply(conn, [old])
        finally:
            engine.dispose()
        got = scrape(client)
    agents = {dict(labels).get("agent") for (_, labels) in got}
    assert "1.7" in agents and "1.9" not in agents


def test_promtool_accepts_the_exposition(sqlite_url, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    with make_client(sqlite_url) as client:
        client.post("/api/v1/events", json=[*FLEET, program_stats(time.time())])
        lines = b"jobs.done-ok:1|c\nt:1|ms\n9lives:1|g|#9x:y,a.b:c"
        client.post("/api/v1/metrics/statsd", content=lines)
        client.portal.call(client.app.state.statsd.flush)
        text = client.get("/metrics").text
    assert "statsd_jobs_done_ok" in text and "_9lives" in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def query(prom: str, expr: str, at: float | None = None) -> list[dict]:
    params: dict[str, str | float] = {"query": expr}
    if at is not None:
        params["time"] = at
    r = httpx.get(f"{prom}/api/v1/query", params=params, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]


def test_a_real_prometheus_scrapes_the_server(tmp_path: Path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
    # statsd is flushed every 10 s by default. Every flush stores the gauge again (one more
    # event committed), so the values are read as of the first scrape that saw the gauge: one
    # flush before it, as the scrapes (every 0.5 s) are much more frequent than the flushes.
    flush = {"WATCHKEEPER_STATSD_FLUSH_INTERVAL": "2"}
    with ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=flush) as server:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 500ms\n"
            "scrape_configs:\n  - job_name: watchkeeper\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{server.port}']\n"
        )
        prom = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            # Sent once Prometheus scrapes, so that no second flush comes before its next scrape.
            until_scraped(prom, url, 'up{job="watchkeeper"}', deadline)
            httpx.post(f"{server.url}/api/v1/events", json=[*FLEET, program_stats(time.time())])
            httpx.post(
                f"{server.url}/api/v1/metrics/statsd",
                content=b"q.depth:4|g|#queue:mail",
                headers={"Content-Type": "text/plain"},
            )
            until_scraped(prom, url, 'statsd_q_depth{queue="mail"}', deadline)
            (gauge,) = query(url, 'statsd_q_depth{queue="mail"}[5m]')
            at = float(gauge["values"][0][0])  # the scrape that first saw it
            assert value(url, 'up{job="watchkeeper"}', at) == 1
            assert value(url, 'statsd_q_depth{queue="mail"}', at) == 4
            assert value(url, 'watchkeeper_tasks{status="finished"}', at) == 2
            cpu = 'watchkeeper_program_cpu_percent{agent="1.7",program="site.web"}'
            assert value(url, cpu, at) == 12.5
            assert value(url, "watchkeeper_events_committed_total", at) == len(FLEET) + 2
        finally:
            prom.terminate()
            prom.wait(30)


def until_scraped(prom: subprocess.Popen, url: str, expr: str, deadline: float) -> None:
    while not query_ok(url, expr):
        assert prom.poll() is None, "prometheus exited"
        assert time.monotonic() < deadline, f"prometheus never scraped {expr}"
        time.sleep(0.2)


def query_ok(url: str, expr: str) -> bool:
    try:
        return bool(query(url, expr))
    except httpx.HTTPError:
        return False


def value(url: str, expr: str, at: float | None = None) -> float:
    (one,) = query(url, expr, at)
    return float(one["value"][1])


def tailing(got: dict, name: str) -> dict[str, float]:
    return {
        dict(labels)["file"]: v
        for (n, labels), v in got.items()
        if n == name and dict(labels)["input"] == "logs"
    }


def test_tailing_lag_per_file_bounded_and_measured_from_the_commit(sqlite_url, tmp_path):
    from tests.integration.test_kpis_api import wait_for
    from watchkeeper.api.exposition import TOP_FILES

    sizes = {}
    for n in range(TOP_FILES + 2):
        log = tmp_path / f"f{n:02}.log"
        log.write_text("".join(f"1::line {n} {i}\n" for i in range(n + 1)))
        sizes[str(log)] = log.stat().st_size
    inputs = ({"id": "logs", "type": "file", "paths": [str(tmp_path / "*.log")],
               "format": "levels", "poll_seconds": 0.05},)  # fmt: skip
    smallest = sorted(sizes, key=sizes.get)[:2]
    expected = {p: s for p, s in sizes.items() if p not in smallest}
    expected["other"] = sum(sizes[p] for p in smallest)
    # Read at once, committed only at the checkpoint (an hour) or on shutdown.
    with make_client(sqlite_url, inputs=inputs, kpis={"checkpoint_seconds": 3600}) as client:
        got = wait_for(
            lambda: (
                (s := scrape(client))
                and tailing(s, "watchkeeper_input_lag_bytes") == expected
                and s
            )
        )
        text = client.get("/metrics").text
    lag, idle = (tailing(got, f"watchkeeper_input_{k}_seconds") for k in ("lag", "idle"))
    assert set(lag) == set(expected) and all(lag[p] == idle[p] >= 0 for p in lag)
    promtool = shutil.which("promtool")
    if promtool is not None:
        result = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # Committed on shutdown: a new server starts from the stored offsets, nothing behind.
    with make_client(sqlite_url, inputs=inputs, kpis={"checkpoint_seconds": 3600}) as client:
        wait_for(
            lambda: (
                list(tailing(scrape(client), "watchkeeper_input_lag_bytes").values())
                == [0.0] * (TOP_FILES + 1)
            )
        )
        first = tmp_path / "f00.log"
        with first.open("a") as fh:
            fh.write("3::late\n")
        got = wait_for(
            lambda: (
                (s := scrape(client))
                and tailing(s, "watchkeeper_input_lag_bytes").get(str(first)) == 8
                and s
            )
        )
    lag = tailing(got, "watchkeeper_input_lag_bytes")
    assert sum(lag.values()) == 8 and len(lag) == TOP_FILES + 1
    seconds = tailing(got, "watchkeeper_input_lag_seconds")
    assert seconds[str(first)] > 0 and seconds["other"] == 0
