"""State shards (seed 001): the grammar of a shard and its translation into events.

A shard is a JSON object deep-merged into the one state document. Two value forms are
operators rather than data:

* ``{"$inc": n}`` increments a counter by ``n`` (any finite number, negative included);
* ``{"$ttl": seconds, "value": v}`` writes ``v`` at that key and gives the key a time to live.

An item of a request is either a *bare shard*, whose top-level keys are state keys except the
envelope fields ``source``, ``event_id``, ``level`` and ``ts``, or a *log record* in the
original monitor's form, with the shard under ``_details`` and the sender in ``host``; such a
record may also carry ``source``, ``event_id``, ``level`` (or ``levelname``/``levelno``), a time
(``ts``, ``time`` or ``created``) and a ``ttl`` for the whole shard. A source may also come from
the ``X-Watchkeeper-Source`` header. Everything is checked before anything is stored, and every
problem is reported with the path of the offending key in the request body.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from watchkeeper.events.decode import load_items
from watchkeeper.events.fields import NUL, NUL_REASON, Fields
from watchkeeper.events.kinds import STATE_SHARD
from watchkeeper.events.model import Event, InvalidBatch, Issue

KIND = STATE_SHARD
INC = "$inc"
TTL = "$ttl"
#: Top-level fields of a bare shard that describe the shard instead of being state keys.
ENVELOPE = frozenset({"source", "event_id", "level", "ts"})
DETAILS = "_details"
#: A key's path is stored as one indexed text; this bound keeps it inside every index.
MAX_PATH_BYTES = 1500
MAX_KEY_CHARS = 256
#: Ten years: anything longer is a mistake rather than a time to live.
MAX_TTL = 10 * 365 * 86400.0
MAX_INC = 1e15


def is_inc(value: Any) -> bool:
    return type(value) is dict and INC in value


def is_ttl(value: Any) -> bool:
    return type(value) is dict and TTL in value


def check_ttl(value: Any) -> str | None:
    """Why ``value`` is not a usable time to live in seconds, or ``None`` if it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "expected a number of seconds"
    if not math.isfinite(value) or value <= 0 or value > MAX_TTL:
        return f"expected more than 0 and at most {MAX_TTL:.0f} seconds"
    return None


class ShardChecker:
    """Validates one shard, appending an :class:`Issue` per bad key.

    It walks the shard once, tracking the key's depth in the document and the byte length of its
    stored path, and never descends past ``max_depth`` (so a hostile body cannot exhaust the
    stack). Paths are only formatted for the keys that are refused.
    """

    __slots__ = ("issues", "max_depth", "reserved", "prefix")

    def __init__(self, issues: list[Issue], *, max_depth: int, reserved: str | None) -> None:
        self.issues = issues
        self.max_depth = max_depth
        self.reserved = reserved
        self.prefix = ""

    def check(self, shard: Mapping[str, Any], prefix: str) -> None:
        self.prefix = prefix
        if self.reserved is not None and self.reserved in shard:
            self._fail([self.reserved], "reserved for the totals of expired counters")
        self._object(shard, [], 0, 0)

    def _fail(self, keys: list[str], reason: str) -> None:
        self.issues.append(Issue(_join(self.prefix, ".".join(keys)), reason))

    def _object(self, obj: Mapping[str, Any], keys: list[str], depth: int, size: int) -> None:
        for key, value in obj.items():
            reason = None
            if not key:
                reason = "keys must not be empty"
            elif key[0] == "$":
                reason = f"unknown operator {key!r}: expected $inc or $ttl forms"
            elif len(key) > MAX_KEY_CHARS:
                reason = f"keys are at most {MAX_KEY_CHARS} characters"
            elif NUL in key:
                reason = NUL_REASON
            elif depth >= self.max_depth:
                reason = f"deeper than {self.max_depth} levels"
            key_size = size + 1 + (len(key) if key.isascii() else len(key.encode()))
            if reason is None and key_size > MAX_PATH_BYTES:
                reason = f"key path longer than {MAX_PATH_BYTES} bytes"
            if reason is not None:
                self._fail([*keys, key], reason)
            elif type(value) is dict:
                keys.append(key)
                self._value(value, keys, depth + 1, key_size, ttl_allowed=True)
                keys.pop()

    def _value(
        self, value: dict[str, Any], keys: list[str], depth: int, size: int, *, ttl_allowed: bool
    ) -> None:
        """Check an object value at ``keys``: an operator form or an object of more keys."""
        if INC in value:
            self._inc(value, keys)
        elif TTL in value:
            if not ttl_allowed:
                self._fail([*keys, TTL], "a $ttl value cannot hold another $ttl")
                return
            extra = sorted(set(value) - {TTL, "value"})
            if extra:
                self._fail([*keys, extra[0]], "a $ttl form has only the $ttl and value keys")
            reason = check_ttl(value[TTL])
            if reason is not None:
                self._fail([*keys, TTL], reason)
            inner = value.get("value")
            if inner is None:
                self._fail([*keys, "value"], "a key with a time to live needs a value")
            elif type(inner) is dict:
                self._value(inner, [*keys, "value"], depth, size, ttl_allowed=False)
        else:
            self._object(value, keys, depth, size)

    def _inc(self, value: dict[str, Any], keys: list[str]) -> None:
        if len(value) != 1:
            extra = sorted(k for k in value if k != INC)[0]
            self._fail([*keys, extra], "an increment has only the $inc key")
        amount = value[INC]
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            self._fail([*keys, INC], "expected a number")
        elif not math.isfinite(amount) or abs(amount) > MAX_INC:
            self._fail([*keys, INC], f"expected a finite number of at most {MAX_INC:g}")


def _join(prefix: str, path: str) -> str:
    if prefix and path:
        return f"{prefix}.{path}"
    return prefix or path or "$"


def translate(
    item: Any,
    prefix: str,
    now: float,
    issues: list[Issue],
    *,
    checker: ShardChecker,
    header_source: str | None = None,
    ttl: float | None = None,
) -> Event | None:
    """One request item as a ``state.shard`` event, or ``None`` with issues appended."""
    if not isinstance(item, Mapping):
        issues.append(Issue(prefix or "$", "expected a JSON object"))
        return None
    before = len(issues)
    f = Fields(item, prefix, issues)
    event_id = f.ident("event_id")
    if DETAILS in item:
        shard = item[DETAILS]
        source = f.text("source", max_len=200) or f.text("host", max_len=200)
        ts = f.time("ts", "time", "created", default=now)
        level = _record_level(f)
        if "ttl" in item and item["ttl"] is not None:
            reason = check_ttl(item["ttl"])
            if reason is not None:
                f.fail("ttl", reason)
            else:
                ttl = float(item["ttl"])
        if not isinstance(shard, Mapping):
            f.fail(DETAILS, "expected the shard as a JSON object")
            shard = None
        shard_prefix = f.path(DETAILS)
    else:
        source = f.text("source", max_len=200)
        ts = f.time("ts", default=now)
        level = f.level()
        shard = {k: v for k, v in item.items() if k not in ENVELOPE}
        shard_prefix = prefix
    source = source or header_source
    if not source:
        f.fail("source", "field required: give a source field or the X-Watchkeeper-Source header")
    if shard is not None:
        checker.check(shard, shard_prefix)
    if len(issues) > before:
        return None
    attrs = {"shard": shard, "ttl": ttl}
    return Event(KIND, ts, level, source, None, attrs, item, event_id=event_id, received_at=now)


def _record_level(f: Fields) -> str:
    """A log record's level: ``level``, else ``levelname``, else ``levelno`` (Python's names)."""
    for name in ("level", "levelname", "levelno"):
        if f.obj.get(name) is not None:
            return f.level(name)
    return "info"


def decode_shards(
    body: bytes,
    content_type: str | None,
    *,
    header_source: str | None = None,
    ttl: float | None = None,
    max_depth: int = 64,
    reserved: str | None = None,
    max_items: int = 100_000,
) -> list[Event]:
    """Decode and validate a whole ``POST /api/v1/state`` body, all or nothing."""
    items, batched = load_items(body, content_type)
    if len(items) > max_items:
        raise InvalidBatch([Issue("$", f"at most {max_items} shards per request")])
    if not items:
        raise InvalidBatch([Issue("$", "no shards in the body")])
    if header_source is not None and (not header_source or len(header_source) > 200):
        raise InvalidBatch([Issue("header.x-watchkeeper-source", "expected 1 to 200 characters")])
    now = time.time()
    issues: list[Issue] = []
    checker = ShardChecker(issues, max_depth=max_depth, reserved=reserved)
    events: list[Event] = []
    for index, item in enumerate(items):
        event = translate(
            item,
            f"[{index}]" if batched else "",
            now,
            issues,
            checker=checker,
            header_source=header_source,
            ttl=ttl,
        )
        if event is not None:
            events.append(event)
    if issues:
        raise InvalidBatch(issues, "invalid shards")
    return events


__all__ = [
    "KIND",
    "INC",
    "TTL",
    "ShardChecker",
    "check_ttl",
    "decode_shards",
    "is_inc",
    "is_ttl",
]
