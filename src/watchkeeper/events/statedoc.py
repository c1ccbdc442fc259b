"""The live state document as a CRDT, in pure Python (no database).

(Longer than most modules on purpose: it is the one definition of what a shard means, its
grammar, paths and merge rules read together; the tests hold the state view to it.)

This is the executable definition of what merging shards means; the durable view in
:mod:`watchkeeper.views.state` keeps the same document in tables and is tested against it.

Every shard is applied with a *stamp* (in the server, its ``seq``): a total order on shards.
The document is a tree of slots. Each slot keeps last-writer-wins registers, so the result is
the same whatever order shards are applied in, and applying one twice changes nothing:

* ``stamp``/``kind``/``value``: the latest write at this key (an object, a value, a deletion or a
  counter). Objects merge, any other value replaces, ``null`` deletes.
* ``cut``: the latest write that *replaced* the key (a value, a deletion or a counter); it hides
  descendants written before it.
* ``reset``: the latest write that was not an increment; it hides increments written before it,
  so writing a plain value over a counter restarts it.
* ``exp``: the key's time to live, set by a ``$ttl`` and cleared by a plain value or ``null``.
* ``counts``: increments, one *dot* per shard, ``(stamp, origin) -> (source, amount)``. A dot is
  keyed by the shard that made it, so a shard applied twice counts once; the counter reads as the
  sum, and per source as a PN pair (increments, decrements).

:meth:`Doc.join` merges two documents field by field with ``max`` and set union, which makes it
commutative, associative and idempotent; applying a shard is joining the document with the
shard's own small document. When shards are applied in stamp order, the rendered document is
exactly the sequential deep merge the seed-001 document describes.

Expiry is decided at read time: a key whose expiry (event time + ttl) has passed is hidden with
its subtree, and the counts inside it are folded into totals kept under ``_expired_totals``,
at the key's path with the expired key replaced by ``*`` (so a stream of short-lived keys folds
into bounded totals). :meth:`Doc.compact` removes such keys for good; it is meant for shards
applied in stamp order, as the server does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.events.state import INC, TTL

Path = tuple[str, ...]

OBJ, VAL, DEL, CTR = 0, 1, 2, 3
KIND_NAMES = {OBJ: "obj", VAL: "val", DEL: "del", CTR: "ctr"}
#: The segment that replaces an expired key in the path of its folded totals.
WILDCARD = "*"
#: Where a folded total goes when its path is also an object of other totals.
TOTAL_KEY = "$total"
DEFAULT_TOTALS = "_expired_totals"

#: ``(path, kind, payload, ttl)``
Write = tuple[Any, int, Any, float | None]


# --- the shard grammar ---------------------------------------------------------------------


def writes(
    shard: Mapping[str, Any],
    ttl: float | None = None,
    *,
    root: Any = (),
    join: Callable[[Any, str], Any] = lambda path, key: (*path, key),
) -> list[Write]:
    """A validated shard as ``(path, kind, payload, ttl)`` writes, each parent before its
    children. ``ttl`` (the ``?ttl=`` of a request) applies to the shard's top-level keys.

    Paths are tuples of keys unless ``root`` and ``join`` build another form (the durable view
    builds JSON Pointers directly)."""
    out: list[Write] = []
    _walk(root, shard, ttl, join, out)
    return out


def classify(value: Any, ttl: float | None) -> tuple[int, Any, float | None]:
    """What writing ``value`` at a key does: ``(kind, payload, ttl)``, where a ``$ttl`` form is
    unwrapped into its value and time to live, and an object's payload is the object."""
    if type(value) is dict:
        if TTL in value:
            ttl = float(value[TTL])
            value = value["value"]
            if type(value) is not dict:
                return (VAL, value, ttl)
        if INC in value:
            return (CTR, value[INC], ttl)
        return (OBJ, value, ttl)
    if value is None:
        return (DEL, None, None)
    return (VAL, value, ttl)


def _walk(
    base: Any,
    obj: Mapping[str, Any],
    top_ttl: float | None,
    join: Callable[[Any, str], Any],
    out: list[Write],
) -> None:
    for key, value in obj.items():
        path = join(base, key)
        kind, payload, ttl = classify(value, top_ttl)
        if kind == OBJ:
            out.append((path, OBJ, None, ttl))
            _walk(path, payload, None, join, out)
        else:
            out.append((path, kind, payload, ttl))


def fold_path(expired: Path, counter: Path) -> Path:
    """Where the counts of ``counter`` go when the key ``expired`` (an ancestor or itself)
    expires: the same path with the expired key replaced by ``*``."""
    return (*expired[:-1], WILDCARD, *counter[len(expired) :])


def number(value: float) -> int | float:
    """Counts are summed as floats in the database: show whole numbers as integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# --- paths ---------------------------------------------------------------------------------


def encode(path: Path) -> str:
    """A path as a JSON Pointer (RFC 6901): ``("a", "b/c")`` -> ``/a/b~1c``. Descendants of a
    key are exactly the texts that start with its pointer plus ``/``."""
    return "".join(pointer_join("", seg) for seg in path)


def pointer_join(pointer: str, key: str) -> str:
    """The pointer of ``key`` inside the key at ``pointer``."""
    if "~" in key or "/" in key:
        key = key.replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{key}"


def decode(pointer: str) -> Path:
    """The inverse of :func:`encode`; raises ``ValueError`` for a malformed pointer."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError("a JSON Pointer starts with /")
    out = []
    for seg in pointer[1:].split("/"):
        if "~" in seg.replace("~0", "").replace("~1", ""):
            raise ValueError("~ must be followed by 0 or 1 in a JSON Pointer")
        out.append(seg.replace("~1", "/").replace("~0", "~"))
    return tuple(out)


def parse_path(text: str | None) -> Path:
    """A path given by a user: dotted (``a.b.c``), or a JSON Pointer (``/a/b.c``) when a key
    holds a dot. Empty means the whole document."""
    if not text:
        return ()
    if text.startswith("/"):
        return decode(text)
    segments = tuple(text.split("."))
    if any(not s for s in segments):
        raise ValueError("empty key in a dotted path (use a JSON Pointer for such keys)")
    return segments


def dotted(path: Path) -> str:
    return ".".join(path)


# --- the CRDT ------------------------------------------------------------------------------


class Slot:
    """One key of the document with its registers (see the module docstring)."""

    __slots__ = ("stamp", "kind", "value", "cut", "reset", "exp", "children", "counts")

    def __init__(self) -> None:
        self.stamp = 0
        self.kind = DEL
        self.value: Any = None
        self.cut = 0
        self.reset = 0
        #: ``(stamp, expires_at or None)`` of the write that last set or cleared the expiry.
        self.exp: tuple[int, float | None] | None = None
        self.children: dict[str, Slot] | None = None
        #: dot ``(stamp, origin path or None)`` -> ``(source, amount)``
        self.counts: dict[tuple[int, Path | None], tuple[str, float]] | None = None

    def write(
        self, stamp: int, kind: int, payload: Any, ttl: float | None, source: str, ts: float
    ) -> None:
        if stamp > self.stamp:
            self.stamp = stamp
            self.kind = kind
            self.value = payload if kind == VAL else None
        if kind != OBJ and stamp > self.cut:
            self.cut = stamp
        if kind != CTR and stamp > self.reset:
            self.reset = stamp
        sets_expiry = ttl is not None or kind in (VAL, DEL)
        if sets_expiry and (self.exp is None or stamp > self.exp[0]):
            self.exp = (stamp, None if ttl is None else ts + ttl)
        if kind == CTR:
            if self.counts is None:
                self.counts = {}
            self.counts[(stamp, None)] = (source, payload)

    def join(self, other: Slot) -> Slot:
        out = Slot()
        newer = self if self.stamp >= other.stamp else other
        out.stamp, out.kind, out.value = newer.stamp, newer.kind, newer.value
        out.cut = max(self.cut, other.cut)
        out.reset = max(self.reset, other.reset)
        exps = [e for e in (self.exp, other.exp) if e is not None]
        out.exp = max(exps, key=lambda e: e[0]) if exps else None
        if self.counts or other.counts:
            out.counts = {**(self.counts or {}), **(other.counts or {})}
        if self.children or other.children:
            mine, theirs = self.children or {}, other.children or {}
            out.children = {}
            for key in mine.keys() | theirs.keys():
                a, b = mine.get(key), theirs.get(key)
                out.children[key] = a.join(b) if a and b else (a or b).copy()  # type: ignore[union-attr]
        return out

    def copy(self) -> Slot:
        return self.join(Slot())

    def canonical(self) -> tuple:
        """A comparable picture of every register (for tests of the merge laws)."""
        children = sorted((k, c.canonical()) for k, c in (self.children or {}).items())
        counts = sorted((self.counts or {}).items(), key=repr)
        return (self.stamp, self.kind, repr(self.value), self.cut, self.reset, self.exp,
                tuple(children), tuple(counts))  # fmt: skip


@dataclass(slots=True)
class Rendered:
    """A document read at one moment: the JSON state and its counters per source."""

    document: dict[str, Any]
    #: path -> source -> [increments, decrements], for every counter in ``document``
    counters: dict[Path, dict[str, list[float]]] = field(default_factory=dict)


class Doc:
    """The state document, in memory."""

    __slots__ = ("root", "totals")

    def __init__(self) -> None:
        self.root = Slot()
        self.root.kind = OBJ
        #: folded counts of compacted keys: total path -> dot -> (source, amount)
        self.totals: dict[Path, dict[tuple[int, Path | None], tuple[str, float]]] = {}

    def apply(
        self,
        shard: Mapping[str, Any],
        *,
        stamp: int,
        source: str,
        ts: float = 0.0,
        ttl: float | None = None,
    ) -> None:
        """Merge one shard; ``stamp`` orders it among all shards (must be at least 1)."""
        _merge(self.root, shard, stamp, source, ts, ttl)

    def join(self, other: Doc) -> Doc:
        out = Doc()
        out.root = self.root.join(other.root)
        for src in (self.totals, other.totals):
            for path, dots in src.items():
                out.totals.setdefault(path, {}).update(dots)
        return out

    def canonical(self) -> tuple:
        totals = sorted((p, tuple(sorted(d.items(), key=repr))) for p, d in self.totals.items())
        return (self.root.canonical(), tuple(totals))

    # --- reading ---------------------------------------------------------------------------

    def render(self, now: float, totals_key: str = DEFAULT_TOTALS) -> Rendered:
        """The document at time ``now``, expired keys hidden and their counts folded."""
        out = Rendered({})
        folded: dict[Path, dict[tuple[int, Path | None], tuple[str, float]]] = {
            path: dict(dots) for path, dots in self.totals.items()
        }
        self._render(self.root, (), 0, now, None, out, folded, out.document)
        if folded:
            tree, counters = totals_tree(
                {path: dots.values() for path, dots in folded.items()}, totals_key
            )
            out.document[totals_key] = tree
            out.counters.update(counters)
        return out

    def _render(
        self,
        slot: Slot,
        path: Path,
        anc: int,
        now: float,
        target: tuple[float, Path] | None,
        out: Rendered,
        folded: dict,
        into: dict[str, Any],
    ) -> None:
        """Render ``slot``'s children into ``into``; ``anc`` is the greatest cut above them and
        ``target`` the expired key (expiry, path) their counts fold into, if any."""
        cut = max(anc, slot.cut)
        for key, child in (slot.children or {}).items():
            if child.stamp <= cut or child.kind == DEL:
                continue
            child_path = (*path, key)
            child_target = target
            exp = child.exp
            expired = exp is not None and exp[1] is not None and exp[0] > cut and exp[1] <= now
            if expired and (target is None or exp[1] < target[0]):  # type: ignore[index]
                child_target = (exp[1], child_path)  # type: ignore[index]
            if child.kind == OBJ:
                sub: dict[str, Any] = {}
                self._render(child, child_path, cut, now, child_target, out, folded, sub)
                if child_target is None:
                    into[key] = sub
            elif child.kind == VAL:
                if child_target is None:
                    into[key] = child.value
            else:
                floor = max(cut, child.reset)
                dots = {d: c for d, c in (child.counts or {}).items() if d[0] > floor}
                if child_target is None:
                    pn = _pn(dots.values())
                    out.counters[child_path] = pn
                    into[key] = _total(pn)
                else:
                    dest = fold_path(child_target[1], child_path)
                    bucket = folded.setdefault(dest, {})
                    for (stamp, origin), count in dots.items():
                        bucket[(stamp, origin or child_path)] = count

    def compact(self, now: float) -> int:
        """Remove keys expired at ``now``, folding their counts into the totals; returns how
        many keys were removed. Earliest expiry first, so nested keys fold as reads do."""
        due: list[tuple[float, int, Path, Slot, Slot, int]] = []
        self._due(self.root, (), 0, now, due)
        due.sort(key=lambda d: (d[0], d[1], d[2]))
        removed: set[Path] = set()
        for _, _, path, slot, parent, anc in due:
            if any(path[:i] in removed for i in range(1, len(path) + 1)):
                continue
            self._fold(slot, path, path, anc)
            del parent.children[path[-1]]  # type: ignore[union-attr]
            removed.add(path)
        return len(removed)

    def _due(self, slot: Slot, path: Path, anc: int, now: float, due: list) -> None:
        cut = max(anc, slot.cut)
        for key, child in (slot.children or {}).items():
            if child.stamp <= cut or child.kind == DEL:
                continue
            child_path = (*path, key)
            exp = child.exp
            if exp is not None and exp[1] is not None and exp[0] > cut and exp[1] <= now:
                due.append((exp[1], len(child_path), child_path, child, slot, cut))
            if child.kind == OBJ:
                self._due(child, child_path, cut, now, due)

    def _fold(self, slot: Slot, path: Path, expired: Path, anc: int) -> None:
        if slot.kind == CTR:
            floor = max(anc, slot.reset)
            bucket = self.totals.setdefault(fold_path(expired, path), {})
            for (stamp, origin), count in (slot.counts or {}).items():
                if stamp > floor:
                    bucket[(stamp, origin or path)] = count
        elif slot.kind == OBJ:
            cut = max(anc, slot.cut)
            for key, child in (slot.children or {}).items():
                if child.stamp > cut and child.kind != DEL:
                    self._fold(child, (*path, key), expired, cut)


def _merge(
    slot: Slot, obj: Mapping[str, Any], stamp: int, source: str, ts: float, top_ttl: float | None
) -> None:
    """:func:`writes` applied directly to the slots (the hot path of :meth:`Doc.apply`)."""
    children = slot.children
    if children is None:
        children = slot.children = {}
    for key, value in obj.items():
        child = children.get(key)
        if child is None:
            child = children[key] = Slot()
        if type(value) is not dict and value is not None and top_ttl is None:
            child.write(stamp, VAL, value, None, source, ts)  # the most common write
            continue
        kind, payload, ttl = classify(value, top_ttl)
        if kind == OBJ:
            child.write(stamp, OBJ, None, ttl, source, ts)
            _merge(child, payload, stamp, source, ts, None)
        else:
            child.write(stamp, kind, payload, ttl, source, ts)


def _pn(counts: Any) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for source, amount in counts:
        pair = out.setdefault(source, [0, 0])
        if amount >= 0:
            pair[0] += amount
        else:
            pair[1] -= amount
    return out


def _total(pn: Mapping[str, list[float]]) -> int | float:
    return number(sum(p - n for p, n in pn.values()))


def totals_tree(
    counts: Mapping[Path, Any], totals_key: str = DEFAULT_TOTALS
) -> tuple[dict[str, Any], dict[Path, dict[str, list[float]]]]:
    """Folded counts (total path -> iterable of ``(source, amount)``) as the nested
    ``_expired_totals`` object and its per-source counters. A total whose path is also an
    object of other totals is shown under ``$total`` inside it."""
    tree: dict[str, Any] = {}
    counters: dict[Path, dict[str, list[float]]] = {}
    for path in sorted(counts):
        pn = _pn(counts[path])
        counters[(totals_key, *path)] = pn
        node = tree
        for seg in path[:-1]:
            nxt = node.get(seg)
            if not isinstance(nxt, dict):
                nxt = node[seg] = {} if nxt is None else {TOTAL_KEY: nxt}
            node = nxt
        last = path[-1] if path else TOTAL_KEY
        if isinstance(node.get(last), dict):
            node[last][TOTAL_KEY] = _total(pn)
        else:
            node[last] = _total(pn)
    return tree, counters


# --- documents -----------------------------------------------------------------------------

MISSING: Any = object()


def lookup(document: Any, path: Path) -> Any:
    """The subtree at ``path``, or :data:`MISSING`."""
    node = document
    for seg in path:
        if not isinstance(node, dict) or seg not in node:
            return MISSING
        node = node[seg]
    return node


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``. The state never holds
    ``null`` values (``null`` deletes), which is what makes merge patches exact for it."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif not same_json(old[key], value):
            if isinstance(old[key], dict) and isinstance(value, dict):
                patch[key] = merge_patch(old[key], value)
            else:
                patch[key] = value
    return patch


def same_json(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same JSON text. Python's ``==`` is not enough: it holds
    ``True == 1 == 1.0`` and ``0.0 == -0.0``, also inside lists, and a patch that skipped such a
    change would leave a reader with the old value."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def apply_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7386), returning a new value."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_patch(out.get(key), value)
    return out


# --- the error report ----------------------------------------------------------------------

ERROR_LEVELS = frozenset({"error", "critical"})


def error_entries(shard: Mapping[str, Any], level: str) -> list[tuple[Path, Any]]:
    """What a shard adds to the error report: ``(key path, details)`` pairs.

    Every object carrying a non-null ``error`` key is an entry at its own path. A shard sent at
    level ``error`` or above without such a key is one entry at the point where it branches or
    ends (it descends while an object has a single key holding an object).
    """
    found: list[tuple[Path, Any]] = []
    _find_errors((), shard, found)
    if found or level not in ERROR_LEVELS:
        return found
    path: Path = ()
    node: Any = shard
    while isinstance(node, dict) and len(node) == 1:
        (key, value), = node.items()  # fmt: skip
        value = _unwrap(value)
        if not isinstance(value, dict) or INC in value or not value:
            break
        path, node = (*path, key), value
    return [(path, _plain(node))]


def _find_errors(path: Path, obj: Mapping[str, Any], found: list[tuple[Path, Any]]) -> None:
    if obj.get("error") is not None:
        found.append((path, _plain(obj)))
    for key, value in obj.items():
        value = _unwrap(value)
        if isinstance(value, dict) and INC not in value:
            _find_errors((*path, key), value, found)


def _unwrap(value: Any) -> Any:
    return value["value"] if type(value) is dict and TTL in value else value


def _plain(value: Any) -> Any:
    """Details as written, with ``$ttl`` forms unwrapped (increments are kept as sent)."""
    if isinstance(value, dict):
        if INC in value:
            return value
        return {k: _plain(_unwrap(v)) for k, v in value.items()}
    return value
