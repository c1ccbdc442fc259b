"""What views share beyond the contract the writer holds them to
(:class:`watchkeeper.store.view.View`): loading the rows a batch touches, and JSON columns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import sqlalchemy as sa

# ``chunks`` lives with the writer, which looks event ids up in chunks too; views take it from here.
from watchkeeper.store.view import chunks

__all__ = ["chunks", "dumps", "load_rows", "loads"]


def load_rows(
    conn: sa.Connection, table: sa.Table, column: sa.ColumnElement[Any], keys: Iterable[Any]
) -> list[sa.Row[Any]]:
    """Fetch the rows whose ``column`` is in ``keys``, in chunks."""
    keys = list(keys)
    rows: list[sa.Row[Any]] = []
    for part in chunks(keys):
        rows.extend(conn.execute(sa.select(table).where(column.in_(part))))
    return rows


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None
