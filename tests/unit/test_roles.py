"""Every route declares the role it needs, and docs/api.md's role table is the routes' own."""

from __future__ import annotations

import pathlib
import re

import pytest
from fastapi import APIRouter

from watchkeeper.api.app import create_app
from watchkeeper.api.auth import GRANTS, PUBLIC, require
from watchkeeper.api.roles import markdown, route_roles
from watchkeeper.config import Settings

API_MD = pathlib.Path(__file__).parents[2] / "docs" / "api.md"
ROLES = {PUBLIC, *GRANTS}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # Building the app touches no database: that happens when it starts.
    return create_app(Settings(db=f"sqlite:///{tmp_path_factory.mktemp('db') / 'wk.db'}"))


def test_every_route_declares_one_known_role(app):
    rows = route_roles(app)
    assert len(rows) > 40  # the walk reached the included routers, not only the top level
    undeclared = [f"{r.methods} {r.path}: {r.role}" for r in rows if r.role not in ROLES]
    assert not undeclared, "routes without a declared role (use auth.require or auth.public)"


def test_a_route_without_a_role_is_caught(tmp_path):
    router = APIRouter()

    @router.get("/api/v1/forgotten")
    def forgotten() -> dict:
        return {}

    @router.get("/api/v1/declared", dependencies=[require("read")])
    def declared() -> dict:
        return {}

    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'wk.db'}"))
    app.include_router(router)
    found = {r.path: r.role for r in route_roles(app)}
    assert found["/api/v1/forgotten"] is None
    assert found["/api/v1/declared"] == "read"


def test_deleting_is_admin_and_writing_is_never_read(app):
    for row in route_roles(app):
        if "DELETE" in row.methods.split(", ") and row.role != PUBLIC:
            assert row.role == "admin", row
        if "POST" in row.methods.split(", "):
            assert row.role in ("ingest", "admin", "agent", PUBLIC), row


def test_hot_routes_have_a_declared_twin(app):
    declared = {(r.path, m) for r in route_roles(app) for m in r.methods.split(", ")}
    for route in app.hot_routes:
        for method in route.methods - {"HEAD"}:
            assert (route.path, method) in declared, route.path


def test_docs_table_is_the_routes_table(app):
    text = API_MD.read_text()
    found = re.search(r"<!-- roles:begin -->\n(.*?)<!-- roles:end -->", text, re.S)
    assert found, "docs/api.md has no roles table between its markers"
    expected = markdown(sorted(route_roles(app)))
    assert found.group(1) == expected, (
        "docs/api.md's role table differs from the routes; replace it with the output of "
        "`python -m watchkeeper.api.roles`:\n" + expected
    )
