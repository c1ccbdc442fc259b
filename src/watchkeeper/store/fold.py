"""The one way a view folds a batch into its tables: load the rows the batch touches, change them
in memory as dicts of named columns, write back what changed through :mod:`~watchkeeper.store.bulk`.

A view that must read what it folds into (the current state of a component, a counter)::

    rows = Rows(conn, components, ("type", "id"))
    rows.load(keys)                       # one chunked SELECT for the keys not yet known
    for key, event in batch:
        row = rows.edit(key) or rows.add(key, {**DEFAULTS, "first_seen": event.ts})
        row["last_seen"] = max(row["last_seen"], event.ts)
    rows.write()                          # INSERT new rows, UPDATE edited ones, DELETE dropped

A view whose batch only adds to the stored rows need not read them: it folds the batch into rows
of its own (``rows.add``) and ``rows.upsert(merge)`` folds each into the stored row in SQL,
``merge`` naming per column how (``{t}`` is the stored row, ``excluded`` the batch's)::

    rows = Rows(conn, tasks, ("id",))
    for event in batch:
        row = rows.get(event.subject) or rows.add(event.subject, {..., "events": 0})
        row["events"] += 1
    rows.upsert({"events": bulk.add("events"), "updated_at": bulk.keep_max("updated_at")})

Only rows from ``add`` and ``edit`` (or marked by ``touch`` after a change made through
``get``) are written; ``drop`` deletes, ``forget`` mirrors a delete already done in SQL.
A key is the value of the key column, or the tuple of values of a key of several columns. A row
may carry fields of its own beside the table's columns (name them ``_like_this``): only the
table's columns are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import bulk
from watchkeeper.store.view import CHUNK, chunks

Row = dict[str, Any]
#: A key column's value, or the tuple of the values of a key of several columns.
Key = Any
Codec = Mapping[str, Callable[[Any], Any]]


def _getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """Values of ``names`` as a tuple, from a row or a mapping (one name still gives a tuple)."""
    get = itemgetter(*names)
    if len(names) == 1:
        return lambda row: (get(row),)
    return get


class Rows:
    """The rows of ``table`` that one batch touches, by ``key`` (its key columns).

    ``get(key)`` is the row of ``key`` as the batch has it so far (``None``: absent, or never
    loaded).

    ``decode`` maps a column to what turns its stored value into the one the fold works with
    (a JSON text into a dict, say), ``encode`` back: both apply only to the columns they name.
    """

    def __init__(
        self,
        conn: sa.Connection,
        table: sa.Table,
        key: Sequence[str],
        *,
        decode: Codec | None = None,
        encode: Codec | None = None,
    ) -> None:
        self.conn = conn
        self.table = table
        self.key = tuple(key)
        self.columns = tuple(table.c.keys())
        self.decode = decode or {}
        self.encode = encode or {}
        self._values = tuple(c for c in self.columns if c not in self.key)
        self._key_of = _getter(self.key) if len(self.key) > 1 else itemgetter(self.key[0])
        self._rows: dict[Key, Row | None] = {}  # None: known to be absent
        self._stored: set[Key] = set()  # as the database holds them since the last write
        self._changed: set[Key] = set()
        # Folds call these once per event: bound here, they cost no Python frame of their own.
        self.get: Callable[[Key], Row | None] = self._rows.get
        self._single = self.key[0] if len(self.key) == 1 else None

    # --- reading ---------------------------------------------------------------------------

    def load(self, keys: Iterable[Key]) -> None:
        """Read the rows of ``keys`` not known yet; a key with no row is then known absent."""
        missing = [k for k in dict.fromkeys(keys) if k not in self._rows]
        if not missing:
            return
        t = self.table
        if len(self.key) == 1:
            column: Any = t.c[self.key[0]]
            size = CHUNK
        else:
            column = sa.tuple_(*(t.c[k] for k in self.key))
            size = CHUNK // len(self.key)
        for part in chunks(missing, size):
            self._take(self.conn.execute(sa.select(t).where(column.in_(part))))
        for k in missing:
            self._rows.setdefault(k, None)

    def load_by(self, column: str, values: Iterable[Any]) -> list[Row]:
        """Read every row whose ``column`` (not the whole key) is in ``values``; returns them."""
        found: list[Row] = []
        c = self.table.c[column]
        for part in chunks(list(dict.fromkeys(values))):
            found.extend(self._take(self.conn.execute(sa.select(self.table).where(c.in_(part)))))
        return found

    def take(self, result: Iterable[sa.Row[Any]]) -> list[Row]:
        """Know the rows a query of the view's own read (one the key's ``IN`` plans badly, a
        key of several columns read one column at a time, say); returns them."""
        return self._take(result)

    def _take(self, result: Iterable[sa.Row[Any]]) -> list[Row]:
        taken = []
        for r in result:
            row = r._asdict()
            for name, decode in self.decode.items():
                row[name] = decode(row[name])
            key = self._key_of(row)
            self._rows[key] = row
            self._stored.add(key)
            taken.append(row)
        return taken

    def edit(self, key: Key) -> Row | None:
        """:meth:`get`, the row then being written back by :meth:`write`."""
        row = self._rows.get(key)
        if row is not None:
            self._changed.add(key)
        return row

    def __iter__(self) -> Iterator[Row]:
        return (row for row in self._rows.values() if row is not None)

    def keys(self) -> Iterator[Key]:
        """Every key the batch knows of, present or absent."""
        return iter(self._rows)

    # --- changing --------------------------------------------------------------------------

    def add(self, key: Key, values: Row) -> Row:
        """Make ``values`` (the columns but the key's) the row of ``key``; returns the row."""
        if self._single is not None:
            values[self._single] = key
        else:
            values.update(zip(self.key, key, strict=True))
        self._rows[key] = values
        self._changed.add(key)
        return values

    def touch(self, key: Key) -> None:
        """The row of ``key`` was changed in place: write it back."""
        self._changed.add(key)

    def drop(self, key: Key) -> None:
        """Delete the row of ``key`` (at :meth:`write`)."""
        self._rows[key] = None
        self._changed.add(key)

    def forget(self, key: Key) -> None:
        """The database deleted the row of ``key`` already (a ranged delete): mirror it."""
        self._rows[key] = None
        self._stored.discard(key)
        self._changed.discard(key)

    # --- writing ---------------------------------------------------------------------------

    def write(self) -> None:
        """Delete the dropped rows, insert the new and update the changed ones."""
        inserts, updates, deletes = [], [], []
        for key in self._changed:
            row = self._rows[key]
            if row is None:
                if key in self._stored:
                    deletes.append(key if len(self.key) > 1 else (key,))
                    self._stored.discard(key)
            elif key in self._stored:
                updates.append(row)
            else:
                inserts.append(row)
                self._stored.add(key)
        self._changed.clear()
        bulk.delete(self.conn, self.table, self.key, deletes)
        bulk.insert(self.conn, self.table, self.columns, self._tuples(self.columns, inserts))
        order = self._values + self.key
        bulk.update(self.conn, self.table, self._values, self.key, self._tuples(order, updates))

    def upsert(self, merge: Mapping[str, str]) -> None:
        """Fold every row of the batch into the stored row of its key by ``merge`` (column →
        SQL expression, see :func:`watchkeeper.store.bulk.upsert`), or insert it."""
        rows = [row for row in self._rows.values() if row is not None]
        bulk.upsert(
            self.conn, self.table, self.columns, self.key, merge, self._tuples(self.columns, rows)
        )
        self._changed.clear()

    def _tuples(self, names: Sequence[str], rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        if not rows:
            return []
        if self.encode:
            rows = [{**row, **{c: f(row[c]) for c, f in self.encode.items()}} for row in rows]
        get = _getter(names)
        return [get(row) for row in rows]


def insert(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    """Append rows that are new by construction (one per event, say), named by column."""
    if rows:
        columns = tuple(table.c.keys())
        get = _getter(columns)
        bulk.insert(conn, table, columns, [get(row) for row in rows])
