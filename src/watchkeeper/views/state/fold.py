"""How ``state.shard`` events fold into the state's tables (see :mod:`watchkeeper.views.state`):
shards are applied in ``seq`` order, expired keys compacted on the way."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.state import KIND
from watchkeeper.events.statedoc import (
    CTR,
    DEL,
    ERROR_LEVELS,
    KIND_NAMES,
    VAL,
    decode,
    encode,
    error_entries,
    fold_path,
    pointer_join,
    writes,
)
from watchkeeper.store.fold import Row, Rows
from watchkeeper.views.base import dumps
from watchkeeper.views.state.tables import (
    after,
    ancestors,
    state_counters,
    state_errors,
    state_nodes,
    state_totals,
    subtree,
)

Op = tuple[str, int, Any, float | None]


def _node(
    kind: str, value: str | None, expires_at: float | None, seq: int, ts: float, source: str | None
) -> Row:
    return {
        "kind": kind,
        "value": value,
        "expires_at": expires_at,
        "seq": seq,
        "ts": ts,
        "source": source,
    }


class _Batch:
    """The rows one batch of shards touches, loaded once, changed in memory, written once.

    Deleting a subtree goes to the database at once (one ranged delete) and is mirrored in the
    rows the batch holds.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.nodes = Rows(conn, state_nodes, ("path",))
        self.counters = Rows(conn, state_counters, ("path", "source"))
        #: Per counter path, every source whose row the batch knows (present or dropped).
        self.sources: dict[str, set[str]] = {}
        self.due: float | None = None
        self._sorted: list[str] | None = None

    def preload(self, paths: Iterable[str]) -> None:
        paths = list(dict.fromkeys(paths))
        self.nodes.load(paths)
        counted = []
        for path in paths:
            node = self.nodes.get(path)
            if node is not None and node["kind"] == "ctr":
                counted.append(path)
        for row in self.counters.load_by("path", counted):
            self.sources.setdefault(row["path"], set()).add(row["source"])
        self._sorted = None

    def next_due(self) -> None:
        self.due = self.conn.execute(sa.select(sa.func.min(state_nodes.c.expires_at))).scalar()

    def flush(self) -> None:
        self.nodes.write()
        self.counters.write()

    # --- changes ---------------------------------------------------------------------------

    def drop_counters(self, path: str) -> None:
        for source in self.sources.get(path, ()):
            self.counters.drop((path, source))

    def drop_descendants(self, path: str) -> None:
        """Delete every key below ``path``, in the database and in the batch."""
        low, high = after(path)
        for table in (state_nodes, state_counters):
            self.conn.execute(table.delete().where(table.c.path >= low, table.c.path < high))
        self._forget(low, high)

    def _forget(self, low: str, high: str) -> None:
        """Mirror a delete done in SQL: every key of the batch in ``[low, high)`` is now absent.

        The batch holds the keys :meth:`preload` loaded only, so their sorted list is built
        once and a range of it found by bisection."""
        if self._sorted is None:
            self._sorted = sorted(self.nodes.keys())
        keys = self._sorted
        for p in keys[bisect.bisect_left(keys, low) : bisect.bisect_left(keys, high)]:
            for source in self.sources.pop(p, ()):
                self.counters.forget((p, source))
            self.nodes.forget(p)

    def clear(self, path: str, node: Row) -> None:
        """Make room for a new kind of value at ``path``."""
        if node["kind"] == "obj":
            self.drop_descendants(path)
        elif node["kind"] == "ctr":
            self.drop_counters(path)

    def apply(self, event: Event, ops: Sequence[Op]) -> None:
        seq, ts, source = event.seq, event.ts, event.source
        assert seq is not None
        nodes = self.nodes
        for path, kind, payload, ttl in ops:
            node = nodes.get(path)
            expires = None if ttl is None else ts + ttl
            if expires is not None and (self.due is None or expires < self.due):
                self.due = expires
            if kind == DEL:
                if node is not None:
                    self.clear(path, node)
                    nodes.drop(path)
                continue
            if kind == VAL:
                if node is not None:
                    self.clear(path, node)
                nodes.add(path, _node("val", dumps(payload), expires, seq, ts, source))
                continue
            text = KIND_NAMES[kind]
            if node is None:
                node = nodes.add(path, _node(text, None, expires, seq, ts, source))
            elif node["kind"] != text or ttl is not None:
                if node["kind"] != text:
                    self.clear(path, node)
                    node["kind"], node["value"] = text, None
                if ttl is not None:
                    node["expires_at"] = expires
                node["seq"], node["ts"], node["source"] = seq, ts, source
                nodes.touch(path)
            if kind == CTR:
                self.count(path, source or "", payload, seq)

    def count(self, path: str, source: str, amount: float, seq: int) -> None:
        key = (path, source)
        counter = self.counters.get(key)
        if counter is None:
            counter = self.counters.add(key, {"p": 0.0, "n": 0.0, "seq": 0})
            self.sources.setdefault(path, set()).add(source)
        if seq <= counter["seq"]:
            return  # this shard was already counted here
        if amount >= 0:
            counter["p"] += amount
        else:
            counter["n"] -= amount
        counter["seq"] = seq
        self.counters.touch(key)

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
            if row.path in removed or any(a in removed for a in ancestors(row.path)):
                continue
            expired = decode(row.path)
            counts = self.conn.execute(
                sa.select(c.c.path, c.c.source, c.c.p, c.c.n).where(subtree(c.c.path, row.path))
            ).all()
            for cp in counts:
                dest = encode(fold_path(expired, decode(cp.path)))
                pair = folded.setdefault((dest, cp.source), [0.0, 0.0])
                pair[0] += cp.p
                pair[1] += cp.n
            for table in (n, c):
                self.conn.execute(table.delete().where(subtree(table.c.path, row.path)))
            removed.add(row.path)
        if folded:
            self._add_totals(folded)
        for path in removed:
            self._forget(path, path + "\x00")
            self._forget(*after(path))
        self.next_due()

    def _add_totals(self, folded: Mapping[tuple[str, str], list[float]]) -> None:
        totals = Rows(self.conn, state_totals, ("path", "source"))
        totals.load(folded)
        for key, (p, n) in sorted(folded.items()):
            row = totals.edit(key)
            if row is None:
                totals.add(key, {"p": p, "n": n})
            else:
                row["p"] += p
                row["n"] += n
        totals.write()


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


def _ops(event: Event) -> list[Op]:
    """The event's writes, their paths as JSON Pointers."""
    attrs = event.attrs
    return writes(attrs["shard"], attrs.get("ttl"), root="", join=pointer_join)


def _may_report(event: Event, ops: Sequence[Op]) -> bool:
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
    reported = Rows(conn, state_errors, ("source", "path"))
    keys = sorted(found)
    reported.load(keys)
    for key in keys:
        row = reported.edit(key)
        for event, details in found[key]:
            if row is None:
                row = reported.add(
                    key,
                    {"first_seen": event.ts, "last_seen": event.ts, "count": 0,
                     "level": event.level, "details": "", "seq": 0},
                )  # fmt: skip
            if event.seq is None or event.seq <= row["seq"]:
                continue  # already reported
            row["count"] += 1
            row["first_seen"] = min(row["first_seen"], event.ts)
            row["last_seen"] = max(row["last_seen"], event.ts)
            row["level"] = event.level
            row["details"] = dumps(details)
            row["seq"] = event.seq
    reported.write()


VIEW = StateView()
