"""Reading the state: the document as it reads now, its counters, and the error report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.statedoc import (
    DEFAULT_TOTALS,
    MISSING,
    Path,
    Rendered,
    decode,
    dotted,
    encode,
    fold_path,
    lookup,
    number,
    totals_tree,
)
from watchkeeper.events.timefmt import iso
from watchkeeper.views.base import loads
from watchkeeper.views.state.tables import (
    ancestors,
    state_counters,
    state_errors,
    state_nodes,
    state_totals,
    subtree,
)


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
        return _rendersubtree(conn, path, now)
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


def _rendersubtree(conn: sa.Connection, path: Path, now: float) -> Rendered:
    pointer = encode(path)
    n = state_nodes
    lineage = [*ancestors(pointer), pointer]
    query = sa.select(n.c.path, n.c.kind, n.c.expires_at).where(n.c.path.in_(lineage))
    above = {r.path: r for r in conn.execute(query)}
    for i, p in enumerate(lineage):
        r = above.get(p)
        if r is None or (i < len(lineage) - 1 and r.kind != "obj"):
            return Rendered(MISSING)
        if r.expires_at is not None and r.expires_at <= now:
            return Rendered(MISSING)
    rows = conn.execute(
        sa.select(n.c.path, n.c.kind, n.c.value, n.c.expires_at).where(subtree(n.c.path, pointer))
    ).all()
    c = state_counters
    counters = _counters_by_path(conn.execute(sa.select(c).where(subtree(c.c.path, pointer))))
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
