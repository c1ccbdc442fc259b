"""Bulk statements on the hot path, straight to the driver's ``executemany``.

SQLAlchemy Core processes every parameter dict of an executemany in Python, which costs more
than SQLite itself at tens of thousands of rows a second. These helpers build the SQL once per
dialect and table (quoted by the dialect, placeholders in its paramstyle) and hand tuples to
the driver. The ``INSERT ... ON CONFLICT ... DO UPDATE`` form is the same on SQLite (3.24+)
and PostgreSQL, which lets views fold a batch into existing rows without reading them first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import db


def _placeholder(dialect: sa.Dialect) -> str:
    return "?" if dialect.paramstyle == "qmark" else "%s"


@lru_cache(maxsize=256)
def _insert_sql(dialect: sa.Dialect, table: str, columns: tuple[str, ...]) -> str:
    q = dialect.identifier_preparer.quote
    marks = ", ".join([_placeholder(dialect)] * len(columns))
    return f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES ({marks})"


def executemany(conn: sa.Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run ``sql`` once per row in ``conn``'s transaction.

    On SQLite the rows go to the ``sqlite3`` connection itself: for the few dozen rows of a
    typical commit, SQLAlchemy's per-statement bookkeeping costs as much as SQLite's work.
    """
    if conn.dialect.name == "sqlite":
        db.driver(conn).executemany(sql, rows)
    else:
        conn.exec_driver_sql(sql, list(rows))


def insert(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    if rows:
        executemany(conn, _insert_sql(conn.dialect, table.name, tuple(columns)), rows)


@lru_cache(maxsize=256)
def _upsert_sql(
    dialect: sa.Dialect,
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    updates: tuple[tuple[str, str], ...],
) -> str:
    q = dialect.identifier_preparer.quote
    sets = ", ".join(f"{q(col)} = {expr.format(t=q(table))}" for col, expr in updates)
    return (
        f"{_insert_sql(dialect, table, columns)} ON CONFLICT ({', '.join(q(k) for k in key)})"
        f" DO UPDATE SET {sets}"
    )


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    key: Sequence[str],
    updates: Mapping[str, str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert rows; on a key conflict apply ``updates`` (column → SQL expression, where
    ``{t}`` names the table and ``excluded`` is the row that was offered)."""
    if rows:
        sql = _upsert_sql(
            conn.dialect, table.name, tuple(columns), tuple(key), tuple(updates.items())
        )
        executemany(conn, sql, rows)


@lru_cache(maxsize=256)
def _update_sql(
    dialect: sa.Dialect, table: str, columns: tuple[str, ...], key: tuple[str, ...]
) -> str:
    q = dialect.identifier_preparer.quote
    p = _placeholder(dialect)
    sets = ", ".join(f"{q(c)} = {p}" for c in columns)
    where = " AND ".join(f"{q(k)} = {p}" for k in key)
    return f"UPDATE {q(table)} SET {sets} WHERE {where}"


def update(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """``rows`` are tuples of the ``columns`` values followed by the ``key`` values."""
    if rows:
        executemany(conn, _update_sql(conn.dialect, table.name, tuple(columns), tuple(key)), rows)


@lru_cache(maxsize=256)
def _delete_sql(dialect: sa.Dialect, table: str, key: tuple[str, ...]) -> str:
    q = dialect.identifier_preparer.quote
    p = _placeholder(dialect)
    return f"DELETE FROM {q(table)} WHERE {' AND '.join(f'{q(k)} = {p}' for k in key)}"


def delete(
    conn: sa.Connection, table: sa.Table, key: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Delete the rows whose ``key`` columns hold the values of each tuple of ``rows``."""
    if rows:
        executemany(conn, _delete_sql(conn.dialect, table.name, tuple(key)), rows)


#: Portable "greater / lesser of the stored and the offered value" for upserts.
def keep_max(col: str) -> str:
    return f"CASE WHEN excluded.{col} > {{t}}.{col} THEN excluded.{col} ELSE {{t}}.{col} END"


def keep_min(col: str) -> str:
    return f"CASE WHEN excluded.{col} < {{t}}.{col} THEN excluded.{col} ELSE {{t}}.{col} END"


def add(col: str) -> str:
    return f"{{t}}.{col} + excluded.{col}"


@lru_cache(maxsize=256)
def _select_sql(dialect: sa.Dialect, statement: sa.Select[Any]) -> tuple[str, tuple[str, ...]]:
    compiled = statement.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or ())


def first(
    conn: sa.Connection, statement: sa.Select[Any], params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row of ``statement`` (its plain bind parameters named in ``params``) as a
    tuple, straight from the driver: for point reads on the hot path, where SQLAlchemy's
    statement cache, result machinery and (on SQLite) the ``BEGIN`` of every read connection
    cost many times the read itself. Compiled once per dialect and statement."""
    sql, order = _select_sql(conn.dialect, statement)
    args: Any = tuple(params[name] for name in order) if order else dict(params)
    if conn.dialect.name == "sqlite":
        row = db.driver(conn).execute(sql, args).fetchone()
    else:
        row = conn.exec_driver_sql(sql, args).first()
    return None if row is None else tuple(row)
