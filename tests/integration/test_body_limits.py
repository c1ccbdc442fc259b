"""Every route that reads a body stops at a limit: 413 in the route's envelope, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from tests.conftest import make_client
from tests.fleet import HISTORY
from tests.lamia_jobs import create
from watchkeeper.ui.access import LOGIN_MAX_BYTES

LIMIT = 4096
TOKENS = {"admin-secret-1": "admin", "read-secret-1": "read"}


@pytest.fixture
def small(db_url):
    with make_client(db_url, max_body_bytes=LIMIT) as c:
        create(c, "t1", {"job": None})
        yield c


def big_json() -> bytes:
    """A well-formed batch, only too large."""
    return orjson.dumps(HISTORY * (LIMIT // len(orjson.dumps(HISTORY)) + 1))


def chunked(body: bytes) -> Iterator[bytes]:
    """A body without Content-Length, as a streaming client sends it."""
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


def log_of(client) -> list[dict]:
    return client.get("/api/v1/events", params={"limit": 10_000}).json()["events"]


def assert_too_large(r, limit: int = LIMIT) -> None:
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "too_large"
    assert error["details"] == [{"path": "body", "reason": f"at most {limit} bytes"}]


V1_ROUTES = ["/api/v1/events", "/api/v1/state"]


@pytest.mark.parametrize("path", V1_ROUTES)
@pytest.mark.parametrize("framing", ["declared", "chunked"])
def test_v1_bodies_over_the_limit_are_413_and_store_nothing(small, path, framing):
    before = log_of(small)
    body = big_json()
    content = body if framing == "declared" else chunked(body)
    r = small.post(path, content=content, headers={"Content-Type": "application/json"})
    assert_too_large(r)
    assert log_of(small) == before


@pytest.mark.parametrize(
    "path", ["/api/v0", "/api/v0/t2", "/api/v0/t1/job/event"], ids=["named", "task", "event"]
)
@pytest.mark.parametrize("framing", ["declared", "chunked"])
def test_lamia_bodies_over_the_limit_are_413_in_lamias_envelope(small, path, framing):
    before = log_of(small)
    body = orjson.dumps({"name": "t2", "processes": {"a": None}, "payload": "x" * LIMIT})
    content = body if framing == "declared" else chunked(body)
    r = small.post(path, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json() == {
        "created": False,
        "errors": [
            {
                "reason": f"body larger than {LIMIT} bytes",
                "details": [{"path": "body", "reason": f"at most {LIMIT} bytes"}],
            }
        ],
    }
    assert log_of(small) == before
    assert small.get("/api/v0/t2").status_code == 404


def test_a_body_at_the_limit_is_read(small):
    pad = LIMIT - len(orjson.dumps({"kind": "note", "text": ""}))
    body = orjson.dumps({"kind": "note", "text": "x" * pad})
    assert len(body) == LIMIT
    r = small.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 202, r.text


@pytest.fixture
def secured(sqlite_url):
    with make_client(sqlite_url, tokens=TOKENS) as c:
        yield c


@pytest.mark.parametrize("framing", ["declared", "chunked"])
def test_the_login_form_has_its_own_small_limit(secured, framing):
    body = b"token=read-secret-1&next=/&pad=" + b"x" * LOGIN_MAX_BYTES
    content = body if framing == "declared" else chunked(body)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = secured.post("/login", content=content, headers=headers, follow_redirects=False)
    assert_too_large(r, LOGIN_MAX_BYTES)
    assert "set-cookie" not in r.headers
    ok = secured.post(
        "/login", content=b"token=read-secret-1&next=/", headers=headers, follow_redirects=False
    )
    assert ok.status_code == 303 and "set-cookie" in ok.headers


def test_a_huge_declared_length_is_refused_before_reading(secured):
    """Nothing needs to be sent: the declared length alone is refused (no login needed)."""
    r = secured.post(
        "/login",
        content=b"token=x",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "10" * 4},
        follow_redirects=False,
    )
    assert_too_large(r, LOGIN_MAX_BYTES)
