"""Who may see the dashboard: open without tokens, behind the read role with them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import make_client

READ, INGEST, ADMIN = "read-token-123", "ingest-token-123", "admin-token-123"


@pytest.fixture
def secured(sqlite_url):
    tokens = {READ: "read", INGEST: "ingest", ADMIN: "admin"}
    with make_client(sqlite_url, tokens=tokens) as c:
        yield c


def test_anonymous_mode_needs_no_login(sqlite_url):
    with make_client(sqlite_url) as c:
        assert c.get("/waterfall", follow_redirects=False).status_code == 200


def test_a_page_without_a_token_sends_to_the_login_form(secured):
    r = secured.get("/waterfall?since=-6h&agent=7", follow_redirects=False)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/waterfall?since=-6h&agent=7"]}
    assert secured.get("/api/v1/agents").status_code == 401


@pytest.mark.parametrize("token", ["wrong-token-000", INGEST])
def test_login_refuses_tokens_that_cannot_read(secured, token):
    r = secured.post("/login", data={"token": token, "next": "/agents"}, follow_redirects=False)
    assert r.status_code == 401
    assert "unknown or may not read" in r.text
    assert "watchkeeper_token" not in r.headers.get("set-cookie", "")


def test_login_sets_a_cookie_the_pages_and_reads_accept(secured):
    r = secured.post("/login", data={"token": READ, "next": "/agents"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/agents"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("watchkeeper_token=") and "httponly" in cookie
    assert "samesite=lax" in cookie
    assert secured.get("/agents", follow_redirects=False).status_code == 200
    assert secured.get("/api/v1/charts/waterfall").status_code == 200
    secured.get("/logout")
    assert secured.get("/agents", follow_redirects=False).status_code == 303


def test_the_cookie_never_writes(secured):
    secured.post("/login", data={"token": ADMIN})
    item = {"id_task": 1, "datetime": "2024-05-01 10:00:00.000", "status": "created"}
    assert secured.post("/api/v1/events", json=item).status_code == 401
    assert secured.get("/api/v1/tasks").json()["total"] == 0


def test_a_token_in_the_url_is_kept_in_the_cookie_and_dropped_from_the_url(secured):
    r = secured.get(f"/waterfall?since=-6h&token={READ}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/waterfall?since=-6h"
    assert "watchkeeper_token=" in r.headers["set-cookie"]
    assert secured.get("/waterfall?since=-6h", follow_redirects=False).status_code == 200
    bad = secured.get("/?token=wrong-token-000", follow_redirects=False)
    assert bad.status_code == 401 and "unknown token" in bad.text


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil", "/"),
        ("/tasks", "/tasks"),
    ],
)
def test_login_only_returns_to_this_server(secured, target, landing):
    r = secured.post("/login", data={"token": READ, "next": target}, follow_redirects=False)
    assert r.headers["location"] == landing
