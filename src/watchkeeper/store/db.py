"""Engines and migrations for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")

#: How long a SQLite connection waits for another process's lock before giving up.
BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept a bare file path or a driverless PostgreSQL URL and return a SQLAlchemy URL."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def driver(conn: sa.Connection) -> Any:
    """The DB-API connection under ``conn`` (``sqlite3``'s on SQLite), for the statements the
    hot path hands the driver directly."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection is closed")
    return raw


def make_engine(url: str, *, writer: bool = False, synchronous: str = "FULL") -> sa.Engine:
    """Create an engine.

    On SQLite every connection runs in WAL mode so readers never block the writer, and the
    writer's transactions start with ``BEGIN IMMEDIATE`` so that reading the next ``seq`` inside
    one is race-free even when two processes share the file.
    """
    url = normalise_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            raise ValueError("an in-memory SQLite database cannot be shared; give a file path")
        _create_private(sa.engine.make_url(url).database)
    else:
        kwargs["pool_size"] = 1 if writer else 10
        kwargs["max_overflow"] = 0 if writer else 20
        kwargs["pool_pre_ping"] = True
        # psycopg prepares repeated statements; a generic plan made while a table was tiny (a seq
        # scan for "event_id IN (...)") would then stay as it grows. Plan each execution instead.
        kwargs["connect_args"] = {"options": "-c plan_cache_mode=force_custom_plan"}
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, writer=writer, synchronous=synchronous)
    return engine


def _create_private(path: str | None) -> None:
    """Create a new SQLite file readable by its owner only: the events in it are whatever the
    fleet sent. SQLite gives its -wal and -shm files the mode of the database file."""
    if not path or path.startswith("file:"):
        return
    # An existing file keeps its mode; a missing directory fails on connect, with its message.
    with contextlib.suppress(FileExistsError, FileNotFoundError, NotADirectoryError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure_sqlite(engine: sa.Engine, *, writer: bool, synchronous: str) -> None:
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours (see SQLAlchemy's
        # "Serializable isolation / Savepoints / Transactional DDL" notes for pysqlite).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)


def alembic_config(engine: sa.Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent; run on every start)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
