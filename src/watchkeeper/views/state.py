"""The live state (seed 001): one deep-merged JSON document kept durably, row per key.

Tables (all derived from ``state.shard`` events, rebuilt exactly by ``watchkeeper db rebuild``):

* ``state_nodes``: one row per key of the document, by its JSON Pointer: an object (``obj``), a
  plain value (``val``, JSON text) or a counter (``ctr``), with its expiry. Descendants of a key
  are a range of the primary key, so replacing or deleting a subtree is one indexed delete.
* ``state_counters``: per counter and per source, the PN pair ``(p, n)`` of increments and
  decrements, and the ``seq`` of the last shard counted. Shards are applied once, in ``seq``
  order, in the same transaction that logs them; the ``seq`` guard additionally makes applying
  the same events twice count once.
* ``state_totals``: counts of expired keys, folded per source at the key's path with the expired
  key replaced by ``*`` (so a stream of short-lived keys stays bounded).
* ``state_errors``: the error report, per source and key path.

Shards are applied in ``seq`` order, so the last writer wins by commit order. This is the
sequential reading of the CRDT in :mod:`watchkeeper.events.statedoc` (the tests check that both
give the same document).

Expiry is decided by event time: a key given a time to live of ``t`` seconds by a shard of event
time ``ts`` expires at ``ts + t``. Reads hide it from then on (by the server clock) and fold its
counts into the totals. Compaction (deleting expired keys and storing their folded counts) runs
before applying a shard, when some key has expired by the whole second the shard was received
in. Both times are in the log, so a rebuild compacts at exactly the same points.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.state import KIND
from watchkeeper.events.statedoc import (
    CTR,
    DEFAULT_TOTALS,
    DEL,
    ERROR_LEVELS,
    KIND_NAMES,
    MISSING,
    VAL,
    Path,
    Rendered,
    decode,
    dotted,
    encode,
    error_entries,
    fold_path,
    lookup,
    number,
    pointer_join,
    totals_tree,
    writes,
)
from watchkeeper.events.timefmt import iso
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import chunks, dumps, loads

#: Paths compare byte by byte on every backend (PostgreSQL's "C" collation, SQLite's default),
#: which is what makes "every descendant of /a" the range ``[/a/, /a0)``.
PathText = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

state_nodes = sa.Table(
    "state_nodes",
    metadata,
    sa.Column("path", PathText, primary_key=True),
    sa.Column("kind", sa.String(3), nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("expires_at", Time),
    sa.Column("seq", BigKey, nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Index("ix_state_nodes_expires_at", "expires_at"),
)

state_counters = sa.Table(
    "state_counters",
    metadata,
    sa.Column("path", PathText, primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("p", sa.Double, nullable=False),
    sa.Column("n", sa.Double, nullable=False),
    sa.Column("seq", BigKey, nullable=False),
)

state_totals = sa.Table(
    "state_totals",
    metadata,
    sa.Column("path", PathText, primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("p", sa.Double, nullable=False),
    sa.Column("n", sa.Double, nullable=False),
)

state_errors = sa.Table(
    "state_errors",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("path", PathText, primary_key=True),
    sa.Column("first_seen", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("seq", BigKey, nullable=False),
    sa.Index("ix_state_errors_last_seen", "last_seen"),
)


def _after(pointer: str) -> tuple[str, str]:
    """The half-open range ``[pointer/, pointer0)`` holding exactly its descendants."""
    return pointer + "/", pointer + "0"


def _subtree(column: sa.ColumnElement[str], pointer: str) -> sa.ColumnElement[bool]:
    low, high = _after(pointer)
    return sa.or_(column == pointer, sa.and_(column >= low, column < high))


def _ancestors(pointer: str) -> list[str]:
    """The pointers of ``pointer``'s ancestors, outermost first (segments never hold a raw /)."""
    return [pointer[:i] for i in range(1, len(pointer)) if pointer[i] == "/"]


@dataclass(slots=True)
class _Node:
    kind: str
    value: str | None
    expires_at: float | None
    seq: int
    ts: float
    source: str | None

    def row(self, path: str) -> dict[str, Any]:
        return {
            "path": path,
            "kind": self.kind,
            "value": self.value,
            "expires_at": self.expires_at,
            "seq": self.seq,
            "ts": self.ts,
            "source": self.source,
        }


@dataclass(slots=True)
class _Counter:
    p: float
    n: float
    seq: int


class _Batch:
    """The rows one batch of shards touches, loaded once, changed in memory, written once.

    ``nodes``/``counters`` hold what the batch knows (``None``: known absent); ``in_db`` what the
    database holds as of the last write; ``dirty`` what :meth:`flush` must write. Deleting a
    subtree goes to the database at once (one ranged delete) and is mirrored in the cache.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.nodes: dict[str, _Node | None] = {}
        self.node_in_db: set[str] = set()
        self.dirty: set[str] = set()
        self.counters: dict[str, dict[str, _Counter | None]] = {}
        self.counter_in_db: set[tuple[str, str]] = set()
        self.counter_dirty: set[tuple[str, str]] = set()
        self.due: float | None = None
        self._sorted: list[str] | None = None

    # --- loading and writing ---------------------------------------------------------------

    def preload(self, paths: Iterable[str]) -> None:
        missing = [p for p in dict.fromkeys(paths) if p not in self.nodes]
        counted: list[str] = []
        for part in chunks(missing):
            for r in self.conn.execute(sa.select(state_nodes).where(state_nodes.c.path.in_(part))):
                self.nodes[r.path] = _Node(r.kind, r.value, r.expires_at, r.seq, r.ts, r.source)
                self.node_in_db.add(r.path)
                if r.kind == "ctr":
                    counted.append(r.path)
        for path in missing:
            self.nodes.setdefault(path, None)
            self.counters[path] = {}
        self._sorted = None
        for part in chunks(counted):
            c = state_counters
            for r in self.conn.execute(sa.select(c).where(c.c.path.in_(part))):
                self.counters[r.path][r.source] = _Counter(r.p, r.n, r.seq)
                self.counter_in_db.add((r.path, r.source))

    def next_due(self) -> None:
        self.due = self.conn.execute(sa.select(sa.func.min(state_nodes.c.expires_at))).scalar()

    def flush(self) -> None:
        inserts, updates, deletes = [], [], []
        for path in self.dirty:
            node = self.nodes[path]
            if node is None:
                if path in self.node_in_db:
                    deletes.append({"b_path": path})
                    self.node_in_db.discard(path)
            elif path in self.node_in_db:
                updates.append({**node.row(path), "b_path": path})
            else:
                inserts.append(node.row(path))
                self.node_in_db.add(path)
        t = state_nodes
        if deletes:
            self.conn.execute(t.delete().where(t.c.path == sa.bindparam("b_path")), deletes)
        if inserts:
            self.conn.execute(t.insert(), inserts)
        if updates:
            self.conn.execute(t.update().where(t.c.path == sa.bindparam("b_path")), updates)
        self.dirty.clear()

        c = state_counters
        inserts, updates, deletes = [], [], []
        for key in self.counter_dirty:
            counter = self.counters.get(key[0], {}).get(key[1])
            bind = {"b_path": key[0], "b_source": key[1]}
            if counter is None:
                if key in self.counter_in_db:
                    deletes.append(bind)
                    self.counter_in_db.discard(key)
                continue
            row = {"path": key[0], "source": key[1], "p": counter.p, "n": counter.n,
                   "seq": counter.seq}  # fmt: skip
            if key in self.counter_in_db:
                updates.append({**row, **bind})
            else:
                inserts.append(row)
                self.counter_in_db.add(key)
        where = (c.c.path == sa.bindparam("b_path"), c.c.source == sa.bindparam("b_source"))
        if deletes:
            self.conn.execute(c.delete().where(*where), deletes)
        if inserts:
            self.conn.execute(c.insert(), inserts)
        if updates:
            self.conn.execute(c.update().where(*where), updates)
        self.counter_dirty.clear()

    # --- changes ---------------------------------------------------------------------------

    def put(self, path: str, node: _Node | None) -> None:
        self.nodes[path] = node
        self.dirty.add(path)

    def drop_counters(self, path: str) -> None:
        for source in self.counters.get(path, {}):
            self.counter_dirty.add((path, source))
        self.counters[path] = {source: None for source in self.counters.get(path, {})}

    def drop_descendants(self, path: str) -> None:
        """Delete every key below ``path``, in the database and in the cache."""
        low, high = _after(path)
        for table in (state_nodes, state_counters):
            self.conn.execute(table.delete().where(table.c.path >= low, table.c.path < high))
        self._forget(low, high)

    def _forget(self, low: str, high: str) -> None:
        """Mirror a delete done in SQL: every cached key in ``[low, high)`` is now absent.

        The cache holds the keys loaded by :meth:`preload` only, so their sorted list is built
        once and a range of it found by bisection."""
        if self._sorted is None:
            self._sorted = sorted(self.nodes)
        keys = self._sorted
        for p in keys[bisect.bisect_left(keys, low) : bisect.bisect_left(keys, high)]:
            for source in self.counters.get(p, {}):
                self.counter_in_db.discard((p, source))
                self.counter_dirty.discard((p, source))
            self.nodes[p] = None
            self.node_in_db.discard(p)
            self.dirty.discard(p)
            self.counters[p] = {}

    def clear(self, path: str, node: _Node) -> None:
        """Make room for a new kind of value at ``path``."""
        if node.kind == "obj":
            self.drop_descendants(path)
        elif node.kind == "ctr":
            self.drop_counters(path)

    def apply(self, event: Event, ops: Sequence[tuple[str, int, Any, float | None]]) -> None:
        seq, ts, source = event.seq, event.ts, event.source
        assert seq is not None
        for path, kind, payload, ttl in ops:
            node = self.nodes[path]
            expires = None if ttl is None else ts + ttl
            if expires is not None and (self.due is None or expires < self.due):
                self.due = expires
            if kind == DEL:
                if node is not None:
                    self.clear(path, node)
                    self.put(path, None)
                continue
            if kind == VAL:
                if node is not None:
                    self.clear(path, node)
                self.put(path, _Node("val", dumps(payload), expires, seq, ts, source))
                continue
            text = KIND_NAMES[kind]
            if node is None:
                node = _Node(text, None, expires, seq, ts, source)
                self.put(path, node)
            elif node.kind != text or ttl is not None:
                if node.kind != text:
                    self.clear(path, node)
                    node.kind, node.value = text, None
                if ttl is not None:
                    node.expires_at = expires
                node.seq, node.ts, node.source = seq, ts, source
                self.dirty.add(path)
            if kind == CTR:
                self.count(path, source or "", payload, seq)

    def count(self, path: str, source: str, amount: float, seq: int) -> None:
        per_source = self.counters.setdefault(path, {})
        counter = per_source.get(source)
        if counter is None:
            counter = per_source[source] = _Counter(0.0, 0.0, 0)
        if seq <= counter.seq:
            return  # this shard was already counted here
        if amount >= 0:
            counter.p += amount
        else:
            counter.n -= amount
        counter.seq = seq
        self.counter_dirty.add((path, source))

    # --- compaction ------------------------------------------------------------------------

    def compact(self, tick: float) -> None:
        """Delete every key expired by ``tick``, folding its counts into ``state_totals``."""
        self.flush()
        n, c = state_nodes, state_counters
        due = list(
            self.conn.execute(sa.select(n.c.path, n.c.expires_at).where(n.c.expires_at <= tick))
        )
        due.sort(key=lambda r: (r.expires_at, r.path.count("/"), r.path))
        removed: set[str] = set()
        folded: dict[tuple[str, str], list[float]] = {}
        for row in due:
            if row.path in removed or any(a in removed for a in _ancestors(row.path)):
                continue
            expired = decode(row.path)
            counts = self.conn.execute(
                sa.select(c.c.path, c.c.source, c.c.p, c.c.n).where(_subtree(c.c.path, row.path))
            ).all()
            for cp in counts:
                dest = encode(fold_path(expired, decode(cp.path)))
                pair = folded.setdefault((dest, cp.source), [0.0, 0.0])
                pair[0] += cp.p
                pair[1] += cp.n
            for table in (n, c):
                self.conn.execute(table.delete().where(_subtree(table.c.path, row.path)))
            removed.add(row.path)
        if folded:
            self._add_totals(folded)
        for path in removed:
            self._forget(path, path + "\x00")
            self._forget(*_after(path))
        self.next_due()

    def _add_totals(self, folded: Mapping[tuple[str, str], list[float]]) -> None:
        t = state_totals
        paths = sorted({path for path, _ in folded})
        have: dict[tuple[str, str], tuple[float, float]] = {}
        for part in chunks(paths):
            for r in self.conn.execute(sa.select(t).where(t.c.path.in_(part))):
                have[(r.path, r.source)] = (r.p, r.n)
        inserts, updates = [], []
        for (path, source), (p, n) in sorted(folded.items()):
            if (path, source) in have:
                old = have[(path, source)]
                updates.append({"b_path": path, "b_source": source, "p": old[0] + p,
                                "n": old[1] + n})  # fmt: skip
            else:
                inserts.append({"path": path, "source": source, "p": p, "n": n})
        if inserts:
            self.conn.execute(t.insert(), inserts)
        if updates:
            self.conn.execute(
                t.update().where(
                    t.c.path == sa.bindparam("b_path"), t.c.source == sa.bindparam("b_source")
                ),
                updates,
            )


class StateView:
    name = "state"
    kinds = frozenset({KIND})
    tables = (state_nodes, state_counters, state_totals, state_errors)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        batch = _Batch(conn)
        planned = [(event, _ops(event)) for event in events]
        batch.preload(path for _, ops in planned for path, *_ in ops)
        batch.next_due()
        for event, ops in planned:
            tick = math.floor(event.received_at)
            if batch.due is not None and batch.due <= tick:
                batch.compact(tick)
            batch.apply(event, ops)
        batch.flush()
        _record_errors(conn, [e for e, ops in planned if _may_report(e, ops)])


def _ops(event: Event) -> list[tuple[str, int, Any, float | None]]:
    """The event's writes, their paths as JSON Pointers."""
    attrs = event.attrs
    return writes(attrs["shard"], attrs.get("ttl"), root="", join=pointer_join)


def _may_report(event: Event, ops: Sequence[tuple[str, int, Any, float | None]]) -> bool:
    """Whether the error report can have anything from ``event`` (a cheap test on its writes)."""
    if event.level in ERROR_LEVELS:
        return True
    return any(kind != DEL and path.endswith("/error") for path, kind, _, _ in ops)


def _record_errors(conn: sa.Connection, events: Sequence[Event]) -> None:
    found: dict[tuple[str, str], list[tuple[Event, Any]]] = {}
    for event in events:
        for path, details in error_entries(event.attrs["shard"], event.level):
            found.setdefault((event.source or "", encode(path)), []).append((event, details))
    if not found:
        return
    e = state_errors
    keys = sorted(found)
    have: dict[tuple[str, str], dict[str, Any]] = {}
    for part in chunks(keys, 250):
        rows = conn.execute(sa.select(e).where(sa.tuple_(e.c.source, e.c.path).in_(part)))
        for r in rows:
            have[(r.source, r.path)] = r._asdict()
    inserts, updates = [], []
    for key in keys:
        row = have.get(key)
        for event, details in found[key]:
            if row is None:
                row = {"source": key[0], "path": key[1], "first_seen": event.ts,
                       "last_seen": event.ts, "count": 0, "level": event.level,
                       "details": "", "seq": 0}  # fmt: skip
                inserts.append(row)
            if event.seq is None or event.seq <= row["seq"]:
                continue  # already reported
            row["count"] += 1
            row["first_seen"] = min(row["first_seen"], event.ts)
            row["last_seen"] = max(row["last_seen"], event.ts)
            row["level"] = event.level
            row["details"] = dumps(details)
            row["seq"] = event.seq
        if key in have and row is not None:
            updates.append({**row, "b_source": key[0], "b_path": key[1]})
    if inserts:
        conn.execute(e.insert(), inserts)
    if updates:
        conn.execute(
            e.update().where(
                e.c.source == sa.bindparam("b_source"), e.c.path == sa.bindparam("b_path")
            ),
            updates,
        )


VIEW = StateView()


# --- queries -------------------------------------------------------------------------------


def _snapshot(conn: sa.Connection) -> None:
    """Read the whole document from one snapshot: SQLite reads are snapshots already; on
    PostgreSQL the transaction becomes REPEATABLE READ (must be its first statement)."""
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


def render(
    conn: sa.Connection, *, now: float, path: Path = (), totals_key: str = DEFAULT_TOTALS
) -> Rendered:
    """The document (or the subtree at ``path``, :data:`MISSING` if there is none) at ``now``.

    Expired keys are hidden and their counts folded into ``totals_key``, like compaction would.
    ``Rendered.counters`` lists the counters shown, with their per-source PN pairs.
    """
    _snapshot(conn)
    if path and path[0] != totals_key:
        return _render_subtree(conn, path, now)
    rows = conn.execute(
        sa.select(
            state_nodes.c.path, state_nodes.c.kind, state_nodes.c.value, state_nodes.c.expires_at
        )
    ).all()
    counters = _counters_by_path(conn.execute(sa.select(state_counters)).all())
    tree, shown, folds = _tree(rows, counters, now, ())
    for r in conn.execute(sa.select(state_totals)):
        folds.setdefault(decode(r.path), []).extend(((r.source, r.p), (r.source, -r.n)))
    if folds:
        tree[totals_key], totals = totals_tree(folds, totals_key)
        shown.update(totals)
    if not path:
        return Rendered(tree, shown)
    return Rendered(lookup(tree, path), {p: c for p, c in shown.items() if p[: len(path)] == path})


def _render_subtree(conn: sa.Connection, path: Path, now: float) -> Rendered:
    pointer = encode(path)
    n = state_nodes
    lineage = [*_ancestors(pointer), pointer]
    query = sa.select(n.c.path, n.c.kind, n.c.expires_at).where(n.c.path.in_(lineage))
    above = {r.path: r for r in conn.execute(query)}
    for i, p in enumerate(lineage):
        r = above.get(p)
        if r is None or (i < len(lineage) - 1 and r.kind != "obj"):
            return Rendered(MISSING)
        if r.expires_at is not None and r.expires_at <= now:
            return Rendered(MISSING)
    rows = conn.execute(
        sa.select(n.c.path, n.c.kind, n.c.value, n.c.expires_at).where(_subtree(n.c.path, pointer))
    ).all()
    c = state_counters
    counters = _counters_by_path(conn.execute(sa.select(c).where(_subtree(c.c.path, pointer))))
    tree, shown, _ = _tree(rows, counters, now, path[:-1])
    return Rendered(tree.get(path[-1], MISSING), shown)


def _counters_by_path(rows: Iterable[Any]) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        out.setdefault(r.path, {})[r.source] = [r.p, r.n]
    return out


def _tree(
    rows: Sequence[Any], counters: Mapping[str, Mapping[str, list[float]]], now: float, base: Path
) -> tuple[dict[str, Any], dict[Path, dict[str, list[float]]], dict[Path, list[Any]]]:
    """Nest rows (all below ``base``) into a document; expired keys are left out and the counts
    inside them are returned as folds, each going to the earliest-expired key above it."""
    tree: dict[str, Any] = {}
    shown: dict[Path, dict[str, list[float]]] = {}
    folds: dict[Path, list[tuple[str, float]]] = {}
    expired = {
        decode(r.path): r.expires_at
        for r in rows
        if r.expires_at is not None and r.expires_at <= now
    }
    skip = len(base)
    for r in rows:
        path = decode(r.path)
        target: tuple[float, Path] | None = None
        if expired:
            for i in range(skip + 1, len(path) + 1):
                at = expired.get(path[:i])
                if at is not None and (target is None or at < target[0]):
                    target = (at, path[:i])
        if target is not None:
            if r.kind == "ctr":
                dest = fold_path(target[1], path)
                for source, (p, n) in counters.get(r.path, {}).items():
                    folds.setdefault(dest, []).extend(((source, p), (source, -n)))
            continue
        node = tree
        for seg in path[skip:-1]:
            node = node.setdefault(seg, {})
        if r.kind == "obj":
            node.setdefault(path[-1], {})
        elif r.kind == "val":
            node[path[-1]] = loads(r.value)
        else:
            pn = {s: [number(p), number(n)] for s, (p, n) in counters.get(r.path, {}).items()}
            shown[path] = pn
            node[path[-1]] = number(sum(p - n for p, n in pn.values()))
    return tree, shown, folds


def counter_list(rendered: Rendered) -> list[dict[str, Any]]:
    """The counters of a rendered document, for the API."""
    out = []
    for path, sources in sorted(rendered.counters.items()):
        out.append(
            {
                "path": dotted(path),
                "pointer": encode(path),
                "total": number(sum(p - n for p, n in sources.values())),
                "sources": {
                    s: {"p": number(p), "n": number(n), "value": number(p - n)}
                    for s, (p, n) in sorted(sources.items())
                },
            }
        )
    return out


def next_expiry(conn: sa.Connection, *, after: float) -> float | None:
    """When the next key expires after ``after`` (live streams look again then)."""
    n = state_nodes
    return conn.execute(
        sa.select(sa.func.min(n.c.expires_at)).where(n.c.expires_at > after)
    ).scalar()


# --- the error report ----------------------------------------------------------------------


def errors(
    conn: sa.Connection, *, source: str | None = None, limit: int = 1000
) -> tuple[list[dict[str, Any]], int]:
    """Error entries, most recently seen first, and how many there are in all."""
    e = state_errors
    where = [e.c.source == source] if source is not None else []
    total = conn.execute(sa.select(sa.func.count()).select_from(e).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(e).where(*where).order_by(e.c.last_seen.desc(), e.c.source, e.c.path).limit(limit)
    )
    out = [
        {
            "source": r.source,
            "path": dotted(decode(r.path)),
            "pointer": r.path,
            "first_seen": iso(r.first_seen),
            "last_seen": iso(r.last_seen),
            "count": r.count,
            "level": r.level,
            "details": loads(r.details),
        }
        for r in rows
    ]
    return out, total
