from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tests.support import PG_ENV, drop_ended_databases, fresh_pg_database, require_service
from watchkeeper.api.app import create_app
from watchkeeper.config import Settings
from watchkeeper.store import db


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``-m browser`` selects every test that drives Chromium (through the ``browser``
    fixture); ``-m postgres`` is carried by :func:`db_url`'s PostgreSQL parameter."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_ended_databases()


@pytest.fixture(scope="session")
def pg_migrated() -> Iterator[str]:
    """A PostgreSQL database brought to the latest schema by the server's own upgrade, once:
    the template of the databases of the tests served by a ``client`` fixture."""
    admin = require_service(PG_ENV, "PostgreSQL")
    with fresh_pg_database(admin) as url:
        engine = db.make_engine(url, writer=True)
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
        yield make_url(url).database or ""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """Each test using this runs on a real SQLite file and on a real PostgreSQL database.

    The PostgreSQL database is brand new. A test served by a ``client`` fixture gets a copy of
    :func:`pg_migrated` (its server's start finds the schema up to date, instead of spending
    most of the test migrating an empty database); any other test, migrations' among them,
    gets an empty one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wk.db'}"
        return
    admin = require_service(PG_ENV, "PostgreSQL")
    template = request.getfixturevalue("pg_migrated") if "client" in request.fixturenames else None
    with fresh_pg_database(admin, template) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'wk.db'}"


def make_client(db: str, **settings) -> TestClient:
    """An in-process app. Its writer is the in-process one unless a test asks for the writer
    process (``writer="process"``, the server's default, which every test that starts a real
    ``watchkeeper serve`` uses, and the tests marked :data:`ON_EACH_WRITER`): starting a child
    process for each of hundreds of apps doubles the time of a test file, and
    tests/integration/test_writer.py holds the two to the same behaviour. TestClient's requests
    name the host ``testserver``, which the app serves only because it is listed in
    ``allowed_hosts`` here."""
    defaults = {"writer": "thread", "allowed_hosts": ("testserver",)}
    return TestClient(create_app(Settings(db=db, **{**defaults, **settings})))


@pytest.fixture
def writer_kind() -> str:
    """The writer of the ``client`` fixture's app; :data:`ON_EACH_WRITER` runs a test on both."""
    return "thread"


#: Runs a test that uses ``client`` once with each writer: the in-process one and the writer
#: process the server runs by default.
ON_EACH_WRITER = pytest.mark.parametrize("writer_kind", ["thread", "process"])


@pytest.fixture
def client(db_url: str, writer_kind: str) -> Iterator[TestClient]:
    with make_client(db_url, writer=writer_kind) as c:
        yield c
