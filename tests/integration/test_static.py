"""Static files: our own, plotly.js from the installed package, and no way out of them."""

from __future__ import annotations

import gzip
import http.client

import pytest

from tests.support import ServerProcess

ASSET = "/static/css/app.css"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(f"sqlite:///{tmp_path_factory.mktemp('static') / 'wk.db'}").start()
    yield proc
    proc.stop()


def raw_get(server, path: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    """A GET with the path sent exactly as written (HTTP clients would normalise ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def test_assets_are_served(server):
    status, body, headers = raw_get(server, ASSET)
    assert status == 200 and headers["content-type"].startswith("text/css")
    assert b"--accent" in body
    status, body, headers = raw_get(server, "/static/vendor/plotly.min.js?v=1")
    assert status == 200 and "javascript" in headers["content-type"]
    assert body.startswith(b"/**\n* plotly.js v")
    assert "immutable" in headers["cache-control"]
    assert "content-encoding" not in headers
    status, packed, headers = raw_get(
        server, "/static/vendor/plotly.min.js", Accept_Encoding="gzip"
    )
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == body and len(packed) < len(body) / 2


@pytest.mark.parametrize(
    "path",
    [
        "/static/../api/app.py",
        "/static/../../pyproject.toml",
        "/static/css/../../ui/assets.py",
        "/static/..%2fassets.py",
        "/static/..%2f..%2fapi%2fapp.py",
        "/static/css/..%2f..%2f..%2fui%2fassets.py",
        "/static/%2e%2e/%2e%2e/api/app.py",
        "/static/%2e%2e%2f%2e%2e%2fapi%2fapp.py",
        "/static/..%5c..%5capi%5capp.py",
        "/static/%252e%252e%252fassets.py",
        "/static/vendor/..%2f..%2fui%2fassets.py",
        "/static//etc/passwd",
    ],
)
def test_static_refuses_path_traversal(server, path):
    status, body, _ = raw_get(server, path)
    assert status in (400, 404)
    assert b"import" not in body and b"root:" not in body and b"[project]" not in body
