"""Bearer tokens and roles; anonymous access only without tokens."""

from __future__ import annotations

import pytest

from tests.conftest import make_client
from tests.fleet import HISTORY
from watchkeeper.config import ConfigError, Settings, tokens_from

TOKENS = {"admin-secret-1": "admin", "ingest-secret-1": "ingest", "read-secret-1": "read"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def secured(sqlite_url):
    with make_client(sqlite_url, tokens=TOKENS) as c:
        yield c


def test_no_token_is_401(secured):
    r = secured.get("/api/v1/tasks")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert secured.post("/api/v1/events", json=HISTORY).status_code == 401


def test_unknown_token_is_401(secured):
    assert secured.get("/api/v1/tasks", headers=auth("guess-guess")).status_code == 401


def test_roles(secured):
    assert (
        secured.post("/api/v1/events", json=HISTORY, headers=auth("ingest-secret-1")).status_code
        == 202
    )
    r = secured.get("/api/v1/tasks", headers=auth("ingest-secret-1"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert (
        secured.post("/api/v1/events", json=HISTORY, headers=auth("read-secret-1")).status_code
        == 403
    )
    assert secured.get("/api/v1/tasks", headers=auth("read-secret-1")).json()["total"] == 3
    assert secured.get("/api/v1/tasks", headers=auth("admin-secret-1")).status_code == 200
    # Health stays open for load balancers; it tells nothing about the data.
    assert secured.get("/healthz").status_code == 200


def test_refused_request_stores_nothing(secured):
    secured.post("/api/v1/events", json=HISTORY, headers=auth("read-secret-1"))
    assert secured.get("/healthz").json()["last_seq"] == 0


def test_tokens_from_file_and_environment():
    tokens = tokens_from(
        {"admin_token": "file-admin-1", "read_tokens": ["r-one-111", "r-two-222"]},
        {"WATCHKEEPER_INGEST_TOKEN": "env-ingest-1"},
    )
    assert tokens == {
        "file-admin-1": "admin",
        "r-one-111": "read",
        "r-two-222": "read",
        "env-ingest-1": "ingest",
    }
    with pytest.raises(ConfigError):
        tokens_from({"admin_token": "short"}, {})


def test_non_loopback_without_tokens_is_refused():
    with pytest.raises(ConfigError, match="--insecure"):
        Settings(host="0.0.0.0").check()
    Settings(host="0.0.0.0", insecure=True).check()
    Settings(host="0.0.0.0", tokens=TOKENS).check()
    Settings(host="127.0.0.1").check()
    Settings(host="::1").check()
    Settings(host="localhost").check()
