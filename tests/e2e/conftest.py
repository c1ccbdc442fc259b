"""Fixtures of the browser tests: a real server fed the fixed data set, and Chromium pages
that fail the test on any console error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.browser import LAUNCH_ARGS, require_chromium
from tests.e2e.dataset import HISTORY, busy_fleet
from tests.support import ServerProcess


def start_server(
    tmp_path,
    *,
    busy: bool = True,
    admin_token: str | None = None,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    env = {**(env or {}), **({"WATCHKEEPER_ADMIN_TOKEN": admin_token} if admin_token else {})}
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'wk.db'}", env=env, log_path=str(tmp_path / "server.log")
    ).start()
    items = HISTORY + (busy_fleet() if busy else [])
    headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    response = httpx.post(f"{server.url}/api/v1/events", json=items, headers=headers, timeout=60)
    assert response.status_code == 202, response.text
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One server with the whole data set, shared by the read-only tests of a module."""
    proc = start_server(tmp_path_factory.mktemp("dash"))
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path) -> Iterator[ServerProcess]:
    """A server of its own, for tests that add events."""
    proc = start_server(tmp_path, busy=False)
    yield proc
    proc.stop()


# Per module, not per session: sync Playwright keeps its event loop running in the main thread
# while it is open, and a later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser():
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


class Console:
    """Console errors and uncaught exceptions of one page."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))


def csp_safe_waits(page) -> None:
    """Let ``page.wait_for_function`` take a bare expression under the dashboard's CSP.

    Playwright polls a bare expression by evaluating it as a string inside the page, which
    the Content-Security-Policy (no ``unsafe-eval``) forbids; an arrow function is polled
    without that, so the expression is wrapped in one. The policy itself stays in force."""
    wait = page.wait_for_function

    def wait_for_function(expression: str, *args, **kwargs):
        if "=>" not in expression and not expression.lstrip().startswith("function"):
            expression = f"() => ({expression})"
        return wait(expression, *args, **kwargs)

    page.wait_for_function = wait_for_function


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.console = Console(page)
    csp_safe_waits(page)
    yield page
    context.close()
    assert page.console.errors == [], page.console.errors
