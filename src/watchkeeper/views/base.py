"""What a view is: a consumer of committed events that keeps its own tables.

A view is updated inside the writer's transaction, batch by batch, so its tables always agree
with the log; :func:`watchkeeper.store.rebuild.rebuild` replays the log through the same
``apply`` to recompute it from nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import orjson
import sqlalchemy as sa

from watchkeeper.events import Event

T = TypeVar("T")

#: How many keys go into one ``IN (...)`` lookup; below SQLite's parameter limit.
CHUNK = 500


class View(Protocol):
    name: str
    kinds: frozenset[str]
    tables: tuple[sa.Table, ...]

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        """Fold ``events`` (in ``seq`` order, all of a kind in ``kinds``) into the tables."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
