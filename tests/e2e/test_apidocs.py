"""The API docs (Swagger UI at /docs, ReDoc at /redoc) in a real browser with every request to
another host refused: they must render the operations from the server's own assets."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.browser

LOCAL = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = start_server(tmp_path_factory.mktemp("apidocs"), busy=False)
    yield proc
    proc.stop()


#: What the browser logs for each request the cut-off network refuses.
REFUSED = "Failed to load resource: net::ERR_INTERNET_DISCONNECTED"


@pytest.fixture
def offline(page) -> list[tuple[str, str]]:
    """The page with the internet cut off; yields what it tried to fetch from outside, as
    ``(resource type, URL)``."""
    tried: list[tuple[str, str]] = []

    def route(r) -> None:
        if urlsplit(r.request.url).hostname in LOCAL:
            r.continue_()
        else:
            tried.append((r.request.resource_type, r.request.url))
            r.abort("internetdisconnected")

    page.context.route("**/*", route)
    return tried


def operations(server) -> list[tuple[str, str]]:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    return [(method, path) for path, item in spec["paths"].items() for method in item]


def test_swagger_ui_renders_every_operation_offline(server, page, offline):
    page.goto(f"{server.url}/docs")
    page.wait_for_selector("#swagger-ui .opblock")
    shown = page.eval_on_selector_all(
        "#swagger-ui .opblock",
        """els => els.map(e => [
            e.querySelector('.opblock-summary-method').textContent.toLowerCase(),
            e.querySelector('.opblock-summary-path').dataset.path])""",
    )
    assert sorted(map(tuple, shown)) == sorted(operations(server))
    assert page.locator("#swagger-ui .info .title").inner_text().startswith("watchkeeper")
    # Opening an operation shows its parameters, from the same document.
    page.click("#swagger-ui .opblock-summary-path[data-path='/api/v1/charts/waterfall']")
    page.wait_for_selector("#swagger-ui .opblock.is-open .parameters tr[data-param-name=rows]")
    assert offline == []


def test_redoc_renders_every_operation_offline(server, page, offline):
    page.goto(f"{server.url}/redoc")
    page.wait_for_selector("[data-section-id^='operation/']")
    sections = page.locator("[data-section-id^='operation/']").count()
    assert sections == len(operations(server))
    assert page.get_by_role("heading", name="Task status spans (chart 1)").count() == 1
    # ReDoc's sidebar credits Redocly with a logo from its site; offline the logo is left out
    # (ReDoc hides an image that fails). Nothing it needs to render may come from outside.
    assert [kind for kind, _ in offline] in ([], ["image"])
    errors = page.console.errors
    assert errors.count(REFUSED) == len(offline)
    errors[:] = [e for e in errors if e != REFUSED]


def test_docs_assets_come_from_the_installed_package(server):
    page = httpx.get(f"{server.url}/docs").text
    assert "cdn" not in page.lower() and "<script>" not in page
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = httpx.get(f"{server.url}/static/vendor/{name}")
        assert response.status_code == 200 and len(response.content) > 100_000, name
    assert httpx.get(f"{server.url}/static/vendor/nothing.js").status_code == 404
