"""Headless Chromium for the dashboard tests: Debian's build, driven by Playwright.

Playwright's own browser download cannot work offline, so the tests use the system's Chromium
(``WATCHKEEPER_TEST_CHROMIUM``, default ``/usr/bin/chromium``). Missing, it skips the browser
tests locally and fails them in CI, like :func:`tests.support.require_service`.
"""

from __future__ import annotations

import os
import pathlib

import pytest

CHROMIUM_ENV = "WATCHKEEPER_TEST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: Where every page's screenshot goes (git-ignored).
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
#: Set by ``make screenshots``: also write the pictures the docs show there.
DOCS_SHOTS_ENV = "WATCHKEEPER_SCREENSHOTS"


def require_chromium() -> str:
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    if os.environ.get("CI"):
        pytest.fail(f"no Chromium at {path}: CI must run the browser tests ({CHROMIUM_ENV})")
    pytest.skip(
        f"browser tests skipped: no Chromium at {path} "
        f"(apt-get install -y chromium, or set {CHROMIUM_ENV})"
    )
    raise AssertionError("unreachable")


def save_screenshot(page, name: str, *, docs: bool = False) -> pathlib.Path:
    """Full-page PNG into ``test-artifacts/``; with ``docs``, also where the docs want it."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get(DOCS_SHOTS_ENV)
    if docs and target:
        out = pathlib.Path(target)
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    return path
