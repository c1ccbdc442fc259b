"""The Commands page's send form in a real Chromium against a real server with tokens: an admin
logs in, sends ``ping`` to an agent, and sees it queued and then in the page's history (no agent
runs, so the command stays queued)."""

from __future__ import annotations

import pytest

from tests.e2e.browser import save_screenshot
from tests.e2e.conftest import start_server

pytestmark = pytest.mark.browser

ADMIN = "e2e-admin-token"


@pytest.fixture
def server(tmp_path):
    # The page follows a queued command with long polls; a stopping server waits for those
    # (up to its 10 s grace), so here they last a second.
    quick = {"WATCHKEEPER_COMMAND_MAX_WAIT": "1"}
    proc = start_server(tmp_path, busy=False, admin_token=ADMIN, env=quick)
    yield proc
    proc.stop()


def test_send_ping_from_the_commands_page(server, page):
    page.goto(f"{server.url}/commands?token={ADMIN}")  # the token goes into the login cookie
    assert "token=" not in page.url
    page.fill("#send-form [name=gid]", "3")
    page.fill("#send-form [name=nid]", "41")
    page.select_option("#send-form [name=cmd]", "ping")
    page.click("#send-form button[type=submit]")
    page.wait_for_function("document.getElementById('send-status').dataset.id")
    cid = page.eval_on_selector("#send-status", "e => e.dataset.id")
    assert "QUEUED" in page.text_content("#send-status")
    save_screenshot(page, "commands-send")

    page.goto(f"{server.url}/commands?gid=3&nid=41")
    row = page.locator(f'tr[data-row="{cid}"]')
    assert row.count() == 1
    assert "ping" in row.text_content()
    assert "dashboard" in row.text_content()


def test_a_forged_token_is_refused_in_the_browser(server, page):
    """The page's own script with a tampered token: refused, nothing queued."""
    page.goto(f"{server.url}/commands?token={ADMIN}")
    page.eval_on_selector("#send-form", "f => { f.dataset.csrf = 'forged'; }")
    page.fill("#send-form [name=gid]", "3")
    page.fill("#send-form [name=nid]", "41")
    page.click("#send-form button[type=submit]")
    page.wait_for_function("document.getElementById('send-status').textContent.includes('403')")
    page.console.errors.clear()  # the browser logs the refused request itself
    page.goto(f"{server.url}/commands")
    assert page.locator("tr[data-row]").count() == 0
