"""The "Log out" link is shown to whoever is logged in, and to nobody else."""

from __future__ import annotations

import pytest

from tests.conftest import make_client

READ = "read-token-123"
LOGOUT = 'href="/logout"'


@pytest.fixture
def secured(sqlite_url):
    with make_client(sqlite_url, tokens={READ: "read"}) as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/agents", "/login", "/state"])
def test_anonymous_mode_has_nobody_to_log_out(sqlite_url, path):
    with make_client(sqlite_url) as c:
        page = c.get(path)
        assert page.status_code == 200 and "watchkeeper" in page.text
        assert LOGOUT not in page.text and "Log out" not in page.text


def test_the_login_form_does_not_offer_to_log_out(secured):
    form = secured.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "Log out" not in form.text
    refused = secured.post("/login", data={"token": "wrong-token-000"})
    assert refused.status_code == 401 and "Log out" not in refused.text


def test_a_stale_cookie_is_no_login(secured):
    secured.cookies.set("watchkeeper_token", "revoked-token-000")
    form = secured.get("/login")
    assert form.status_code == 200 and "Log out" not in form.text


def test_logged_in_pages_offer_to_log_out_until_logged_out(secured):
    secured.post("/login", data={"token": READ, "next": "/agents"})
    agents = secured.get("/agents")
    assert agents.status_code == 200 and LOGOUT in agents.text
    login = secured.get("/logout")  # follows the redirect to the login form
    assert login.url.path == "/login" and "Log out" not in login.text
