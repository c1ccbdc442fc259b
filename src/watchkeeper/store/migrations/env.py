"""Alembic environment: run on the connection handed over by ``watchkeeper.store.db``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
