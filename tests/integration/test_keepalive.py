"""An error answer leaves the client's keep-alive connection usable: the next request goes
over the same connection (a 500 used to make the server drop it)."""

from __future__ import annotations

import http.client

import pytest

from tests.support import ServerProcess

DEEP = b'{"kind": "x", "a": ' + b"[" * 300 + b"]" * 300 + b"}"

#: (method, path, body, expected status): every kind of refusal, in both envelopes.
REFUSALS = [
    ("GET", "/api/v1/tasks?limit=0", None, 422),
    ("GET", "/api/v1/events?since_seq=9223372036854775808", None, 422),
    ("GET", "/api/v1/tasks/a%00b", None, 400),
    ("GET", "/api/v1/tasks/nothing", None, 404),
    ("POST", "/api/v1/events", b"{not json", 400),
    ("POST", "/api/v1/events", b'{"kind": "x", "ts": 1e300}', 422),
    ("POST", "/api/v1/events", DEEP, 422),
    ("GET", "/api/v0?limit=%C2%B2", None, 400),
    ("POST", "/api/v0/nope/p/event", b'{"eventClass": "DONE"}', 404),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("keepalive") / "wk.db"
    with ServerProcess(f"sqlite:///{path}") as srv:
        yield srv


def test_error_answers_keep_the_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        sock = conn.sock
        assert sock is not None
        for method, path, body, status in REFUSALS:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == status, (method, path)
            assert (response.getheader("connection") or "").lower() != "close", path
            conn.request("GET", "/healthz")
            after = conn.getresponse()
            after.read()
            assert after.status == 200
            assert conn.sock is sock, f"the connection was dropped after {method} {path}"
    finally:
        conn.close()
