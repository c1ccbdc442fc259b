"""A web page in the user's browser cannot post to, or read from, a server on loopback.

Every refusal is checked for its status, its envelope, and that nothing was stored.
"""

from __future__ import annotations

import os
import stat

import httpx
import pytest

from tests.conftest import make_client
from tests.fleet import HISTORY
from tests.support import ServerProcess
from watchkeeper.api.guard import Guard

EVENT = HISTORY[0]
BODY = (
    b'{"id_task": 7, "datetime": "2024-05-01 10:00:00.000", "level": "info", "status": "created"}'
)
TASK = b'{"processes": {"a": 2}}'


@pytest.fixture
def client(sqlite_url):
    with make_client(sqlite_url) as c:
        assert c.post("/api/v1/events", json=EVENT).status_code == 202
        yield c


def stored(client) -> tuple[int, int]:
    """(last seq, events in the log): what a refused request must leave as it was."""
    last = client.get("/healthz").json()["last_seq"]
    return last, len(client.get("/api/v1/events", params={"limit": 10_000}).json()["events"])


def assert_refused(r, status: int, code: str, path: str) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert [d["path"] for d in error["details"]] == [path]


def assert_lamia_refused(r, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["created"] is False and reason in body["errors"][0]["reason"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_a_form_cannot_post_events(client, content_type):
    before = stored(client)
    r = client.post("/api/v1/events", content=BODY, headers={"Content-Type": content_type})
    assert_refused(r, 415, "unsupported_media", "header.content-type")
    r = client.post("/api/v1/state", content=b'{"a": 1}', headers={"Content-Type": content_type})
    assert_refused(r, 415, "unsupported_media", "header.content-type")
    assert stored(client) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:3000"},  # another program's page on this machine
        {"Origin": "null"},  # a sandboxed frame or a file
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
    ],
)
def test_a_foreign_page_cannot_change_anything(client, headers):
    before = stored(client)
    r = client.post("/api/v1/events", json=EVENT, headers=headers)
    assert_refused(r, 403, "forbidden", "header.origin")
    r = client.post("/api/v1/state", json={"a": 1}, headers=headers)
    assert_refused(r, 403, "forbidden", "header.origin")
    r = client.post("/login", data={"token": "x"}, headers=headers)
    assert_refused(r, 403, "forbidden", "header.origin")
    r = client.post("/api/v0/t1", content=TASK, headers=headers)
    assert_lamia_refused(r, 403, "cross-origin")
    r = client.post("/api/v0/t1/a/event?arrayIndex=1", json={"eventClass": "X"}, headers=headers)
    assert_lamia_refused(r, 403, "cross-origin")
    assert stored(client) == before
    assert client.get("/api/v0/t1").status_code == 404


def test_deleting_from_a_foreign_page_is_refused(client):
    assert client.post("/api/v0/t1", content=TASK).status_code == 201
    before = stored(client)
    r = client.delete("/api/v0/t1", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["errors"][0]["reason"]
    assert stored(client) == before
    assert client.get("/api/v0/t1").status_code == 200


SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


def test_the_servers_own_pages_may_post(client):
    before = stored(client)
    r = client.post("/api/v1/events", json=HISTORY[1], headers=SAME_ORIGIN)
    assert r.status_code == 202
    assert stored(client) == (before[0] + 1, before[1] + 1)


def test_the_login_form_works_from_its_own_page_only(sqlite_url):
    with make_client(sqlite_url, tokens={"reader-token-1": "read"}) as c:
        form = {"token": "reader-token-1", "next": "/agents"}
        r = c.post("/login", data=form, headers={"Origin": "http://evil.example"})
        assert_refused(r, 403, "forbidden", "header.origin")
        assert "watchkeeper_token" not in r.cookies
        r = c.post("/login", data=form, headers=SAME_ORIGIN, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/agents"
        assert r.cookies["watchkeeper_token"] == "reader-token-1"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7070", "127.0.0.1.nip.io"])
def test_a_rebound_name_cannot_read_or_write(client, host):
    before = stored(client)
    r = client.get("/api/v1/tasks", headers={"Host": host})
    assert_refused(r, 421, "misdirected", "header.host")
    assert_refused(client.get("/", headers={"Host": host}), 421, "misdirected", "header.host")
    r = client.post("/api/v1/events", json=EVENT, headers={"Host": host})
    assert_refused(r, 421, "misdirected", "header.host")
    r = client.get("/api/v0", headers={"Host": host})
    assert r.status_code == 421 and "host" in r.json()["errors"][0]["reason"]
    assert stored(client) == before


def test_loopback_names_are_served(client):
    for host in ("127.0.0.1:7070", "localhost:7070", "[::1]:7070", "wk.localhost"):
        assert client.get("/api/v1/tasks", headers={"Host": host}).status_code == 200, host


def test_lamia_jobs_may_post_json_labelled_as_a_form(client):
    """``curl -d`` says application/x-www-form-urlencoded; a browser never gets this far."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/api/v0/t1", content=TASK, headers=form).status_code == 201
    r = client.post("/api/v0/t1/a/event?arrayIndex=1", content=b'{"eventClass": "X"}', headers=form)
    assert r.status_code == 201
    before = stored(client)
    browser = {**form, "Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    r = client.post("/api/v0/t2", content=TASK, headers=browser)
    assert_lamia_refused(r, 415, "JSON")
    r = client.post("/api/v0/t2", content=TASK, headers={"Content-Type": "application/xml"})
    assert_lamia_refused(r, 415, "JSON")
    assert stored(client) == before


def test_dashboard_answers_carry_security_headers(client):
    for path in ("/", "/login", "/static/css/app.css"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        policy = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert policy["script-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    # The API and FastAPI's own docs page (inline scripts) are no dashboard pages.
    assert "content-security-policy" not in client.get("/api/v1/tasks").headers
    assert "content-security-policy" not in client.get("/docs").headers


def test_allowed_hosts_and_bindings():
    local = Guard("127.0.0.1")
    assert local.serves("127.0.0.1:7070") and local.serves("localhost")
    assert local.serves("[::1]:7070") and local.serves("a.localhost")
    assert not local.serves("192.168.1.5:7070") and not local.serves("example.com")
    everywhere = Guard("0.0.0.0")
    assert everywhere.serves("192.168.1.5:7070") and everywhere.serves("[fe80::1]")
    assert not everywhere.serves("example.com")
    named = Guard("127.0.0.1", ["mon.example.com", ".corp.example"])
    assert named.serves("MON.example.com:443") and named.serves("a.b.corp.example")
    assert named.serves("corp.example") and not named.serves("evilcorp.example")
    assert Guard("127.0.0.1", ["*"]).serves("anything.example")


def test_database_files_are_private(tmp_path):
    url = f"sqlite:///{tmp_path / 'private.db'}"
    with make_client(url) as c:
        assert c.post("/api/v1/events", json=EVENT).status_code == 202
        modes = {
            name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)
            for name in os.listdir(tmp_path)
            if name.startswith("private.db")
        }
    assert "private.db" in modes and "private.db-wal" in modes
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_a_real_server_refuses_a_rebound_name_and_serves_allowed_hosts(tmp_path):
    env = {"WATCHKEEPER_ALLOWED_HOSTS": "mon.example.com .corp.example"}
    server = ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=env)
    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/api/v1/events", json=EVENT).status_code == 202
        for host in ("mon.example.com", "a.corp.example:7070", "localhost"):
            assert http.get("/api/v1/tasks", headers={"Host": host}).status_code == 200
        r = http.get("/api/v1/tasks", headers={"Host": "attacker.example"})
        assert_refused(r, 421, "misdirected", "header.host")
        r = http.post(
            "/api/v1/events",
            content=BODY,
            headers={"Content-Type": "text/plain", "Origin": "http://attacker.example"},
        )
        assert_refused(r, 403, "forbidden", "header.origin")
        assert http.get("/healthz").json()["last_seq"] == 1
