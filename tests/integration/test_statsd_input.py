"""The server's statsd input, over UDP and HTTP, into the metric series, on SQLite and
PostgreSQL."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import make_client


@pytest.fixture
def statsd_client(db_url) -> Iterator:
    with make_client(db_url, statsd_port=0, statsd_flush_interval=0.2) as client:
        yield client


def wait_for(client, name: str, *, count: int | None = None, **params) -> list[dict]:
    """The series named ``name`` once flushed (and holding ``count`` samples, if given)."""
    deadline = time.monotonic() + 20
    while True:
        answer = client.get(
            "/api/v1/metrics/series", params={"name": name, "since": "-1h", **params}
        ).json()
        series = answer["series"]
        samples = sum(p["count"] for s in series for p in s["points"])
        if series and (count is None or samples >= count):
            return series
        assert time.monotonic() < deadline, f"{name} never arrived: {answer}"
        time.sleep(0.05)


def total(series: list[dict]) -> float:
    return sum(p["sum"] for s in series for p in s["points"])


def test_udp_lines_become_series(statsd_client):
    port = statsd_client.app.state.statsd.port
    assert statsd_client.app.state.statsd.rcvbuf > 208 * 1024
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in (
            b"jobs.done:1|c\njobs.done:2|c|@0.5\nqueue:+3|g\nqueue:-1|g",
            b"lat:100|ms\nlat:150|ms\nlat:90|ms\nlat:122|ms\nlat:70|ms",
            b"users:azmy|s\nusers:yahia|s\nusers:yahia|s\nreq:1|c|#code:200\nbroken line",
        ):
            sock.sendto(packet, ("127.0.0.1", port))
    assert total(wait_for(statsd_client, "jobs.done")) == 5
    assert total(wait_for(statsd_client, "queue")) == 2
    assert total(wait_for(statsd_client, "users")) == 2
    assert total(wait_for(statsd_client, "lat.upper_90")) == 150
    assert total(wait_for(statsd_client, "lat.mean")) == pytest.approx(106.4)
    (tagged,) = wait_for(statsd_client, "req", tags="code:200")
    assert tagged["agent"] is None and tagged["tags"] == {"code": "200"}
    status = statsd_client.get("/api/v1/metrics/statsd").json()
    assert status["packets"] == 3 and status["malformed"] == 1
    assert status["malformed_samples"] == ["'broken line': expected key:value|type"]


def test_http_lines_share_the_aggregator(statsd_client):
    r = statsd_client.post(
        "/api/v1/metrics/statsd",
        content=b"hits:4|c\nhits:6|c\nnot a metric\nt:5|ms|@0.5\xff",
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 2 and body["malformed"] == 2
    assert len(body["errors"]) == 2
    assert total(wait_for(statsd_client, "hits")) == 10
    names = statsd_client.get("/api/v1/metrics/names", params={"q": "hits"}).json()
    assert [n["name"] for n in names["names"]] == ["hits"]


def test_gauges_are_reported_at_every_flush(statsd_client):
    statsd_client.post("/api/v1/metrics/statsd", content=b"level:7|g")
    series = wait_for(statsd_client, "level", count=3, step=1)
    assert {p["max"] for p in series[0]["points"]} == {7}


def test_udp_is_off_unless_a_port_is_set(sqlite_url):
    with make_client(sqlite_url) as client:
        assert client.app.state.statsd.port is None
        r = client.post("/api/v1/metrics/statsd", content=b"x:1|c")
        assert r.status_code == 202 and r.json()["accepted"] == 1


def test_the_last_flush_is_stored_at_shutdown(sqlite_url):
    with make_client(sqlite_url, statsd_flush_interval=3600) as client:
        client.post("/api/v1/metrics/statsd", content=b"final:9|c")
    with make_client(sqlite_url) as client:
        assert total(wait_for(client, "final")) == 9


def test_a_browser_cannot_post_statsd_text(sqlite_url):
    with make_client(sqlite_url) as client:
        r = client.post(
            "/api/v1/metrics/statsd",
            content=b"x:1|c",
            headers={"Content-Type": "text/plain", "Origin": "http://testserver"},
        )
        assert r.status_code == 415
        assert client.get("/api/v1/metrics/statsd").json()["lines"] == 0
