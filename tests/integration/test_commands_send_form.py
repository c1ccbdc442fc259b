"""The Commands page's send form: the login cookie sends a command only with the page's
anti-forgery token, and only for an admin login; anything else is refused and queues nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from watchkeeper.api.auth import COOKIE

TOKENS = {"admin-token-1": "admin", "read-token-1": "read"}
ADMIN = {"Authorization": "Bearer admin-token-1"}
PING = {"gid": 1, "nid": 7, "cmd": "ping"}


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with make_client(db_url, tokens=TOKENS, command_ttl=30) as client:
        yield client


def login(api: TestClient, token: str) -> str:
    """Log in with ``token``; the anti-forgery token the Commands page renders for it."""
    api.cookies.set(COOKIE, token)
    page = api.get("/commands")
    assert page.status_code == 200, page.text
    found = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert found, "the page renders no anti-forgery token"
    return found.group(1)


def history(api: TestClient) -> list[dict]:
    answer = api.get("/api/v1/commands", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()["commands"]


def test_admin_cookie_and_token_send_a_command(api):
    csrf = login(api, "admin-token-1")
    answer = api.post("/commands/send", json=PING, headers={"X-WK-CSRF": csrf})
    assert answer.status_code == 202, answer.text
    cid = answer.json()["id"]
    [sent] = history(api)
    assert (sent["id"], sent["cmd"], sent["via"]) == (cid, "ping", "dashboard")
    assert sent["sent_by"].startswith("admin:")
    # Reads accept the cookie: the page follows the command without a header.
    assert api.get(f"/api/v1/commands/{cid}").json()["state"] == "QUEUED"
    assert cid in api.get("/commands").text


def test_cookie_without_token_is_refused(api):
    login(api, "admin-token-1")
    answer = api.post("/commands/send", json=PING)
    assert answer.status_code == 403
    assert "anti-forgery" in answer.json()["error"]["message"]
    assert history(api) == []


def test_wrong_token_is_refused(api):
    csrf = login(api, "admin-token-1")
    wrong = ("0" if csrf[0] != "0" else "1") + csrf[1:]
    for presented in (wrong, csrf[:-1], "x"):
        answer = api.post("/commands/send", json=PING, headers={"X-WK-CSRF": presented})
        assert answer.status_code == 403, presented
    assert history(api) == []


def test_token_is_bound_to_the_login(api):
    """A token rendered for one login does not work with another admin cookie."""
    csrf = login(api, "admin-token-1")
    api.app.state.settings.tokens["admin-token-2"] = "admin"
    api.cookies.set(COOKIE, "admin-token-2")
    answer = api.post("/commands/send", json=PING, headers={"X-WK-CSRF": csrf})
    assert answer.status_code == 403
    assert history(api) == []


def test_read_login_is_refused(api):
    api.cookies.set(COOKIE, "read-token-1")
    assert api.get("/commands").status_code == 403  # the page itself is admins' only
    csrf = login_token_for(api)
    answer = api.post("/commands/send", json=PING, headers={"X-WK-CSRF": csrf})
    assert answer.status_code == 403
    assert "(read)" in answer.json()["error"]["message"]
    assert history(api) == []


def login_token_for(api: TestClient) -> str:
    from watchkeeper.ui import csrf

    class Req:  # the token the server would render for this cookie, had it rendered the page
        app = api.app
        cookies = dict(api.cookies)

    return csrf.form_token(Req())  # type: ignore[arg-type]


def test_no_login_and_cross_origin_are_refused(api):
    assert api.post("/commands/send", json=PING, headers={"X-WK-CSRF": "x"}).status_code == 403
    csrf = login(api, "admin-token-1")
    cross = {"X-WK-CSRF": csrf, "Origin": "https://evil.example"}
    assert api.post("/commands/send", json=PING, headers=cross).status_code == 403
    site = {"X-WK-CSRF": csrf, "Sec-Fetch-Site": "cross-site"}
    assert api.post("/commands/send", json=PING, headers=site).status_code == 403
    # The API itself still takes no cookie for a write, token or not.
    api_post = api.post("/api/v1/commands", json=PING, headers={"X-WK-CSRF": csrf})
    assert api_post.status_code == 401
    assert history(api) == []


def test_bad_command_is_a_422_naming_the_field(api):
    csrf = login(api, "admin-token-1")
    answer = api.post(
        "/commands/send", json={**PING, "cmd": "Not A Name"}, headers={"X-WK-CSRF": csrf}
    )
    assert answer.status_code == 422
    assert "cmd" in answer.text
    assert history(api) == []
