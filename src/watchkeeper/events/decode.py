"""From a request body to a validated list of events, all or nothing.

The body is one JSON object, a JSON array of objects, or NDJSON. Each item is recognised by
shape and translated by the module of its format. Any bad item makes the whole batch invalid,
and the :class:`InvalidBatch` lists every bad item with its index and field path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from watchkeeper.events import generic, seed000
from watchkeeper.events.fields import NUL, NUL_REASON
from watchkeeper.events.model import Event, InvalidBatch, Issue

NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/json-seq",
        "application/jsonlines",
    }
)


#: How deeply a body may nest arrays and objects (the top-level value is level 1). A stored
#: event is encoded again on its way to the writer and into the log, inside a few levels of
#: its own, and the JSON encoder stops at 255 levels: deeper bodies are refused before that.
MAX_DEPTH = 128
_CONTAINERS = frozenset({dict, list})


class MalformedBody(Exception):
    """The body is not JSON (or not NDJSON); answered with 400."""

    def __init__(self, message: str, path: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def load_items(body: bytes, content_type: str | None) -> tuple[list[Any], bool]:
    """Decode ``body`` into items; the flag says whether the body was a batch (array/NDJSON)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in NDJSON_TYPES:
        items = []
        deep = may_be_deep(body)
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise MalformedBody(f"line {number}: {exc}", f"line {number}") from None
            if deep and may_be_deep(line):
                check_depth(item, f"[{len(items)}]", level=1)
            items.append(item)
        return items, True
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None
    items, batched = (data, True) if isinstance(data, list) else ([data], False)
    if may_be_deep(body):
        _check_items(items, batched=batched)
    return items, batched


def _check_items(items: list[Any], *, batched: bool) -> None:
    # Each item counts from level 1, whether it came alone, in an array or as a line.
    for index, item in enumerate(items):
        if type(item) is dict and _CONTAINERS.isdisjoint(map(type, item.values())):
            continue  # a flat object, as most events are: found without a Python loop
        check_depth(item, f"[{index}]" if batched else "", level=1)


def may_be_deep(body: bytes) -> bool:
    """Whether ``body`` has enough brackets to nest past :data:`MAX_DEPTH` (counting them is
    far cheaper than walking what was decoded, and rules out almost every body)."""
    return body.count(b"[") + body.count(b"{") > MAX_DEPTH


def check_depth(value: Any, prefix: str, *, level: int) -> None:
    """Refuse ``value`` (at nesting ``level``) if it nests deeper than :data:`MAX_DEPTH`."""
    keys = _too_deep(value, level)
    if keys is None:
        return
    path = prefix
    for key in reversed(keys):
        path += f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
    raise InvalidBatch([Issue(path or "$", f"nested deeper than {MAX_DEPTH} levels")])


def _too_deep(value: Any, level: int) -> list[Any] | None:
    """The keys (innermost first) down to the first array or object nested deeper than
    :data:`MAX_DEPTH` in ``value``, which sits at ``level``; ``None`` if there is none."""
    kind = type(value)
    if kind is dict:
        pairs: Any = value.items()
    elif kind is list:
        pairs = enumerate(value)
    else:
        return None
    if level > MAX_DEPTH:
        return []
    for key, child in pairs:
        kind = type(child)
        if kind is dict or kind is list:
            keys = _too_deep(child, level + 1)
            if keys is not None:
                keys.append(key)
                return keys
    return None


def translate_item(item: Any, prefix: str, now: float, issues: list[Issue]) -> Event | None:
    """Translate one decoded item, appending issues when it is invalid."""
    if not isinstance(item, dict):
        issues.append(Issue(prefix or "$", "expected a JSON object"))
        return None
    event_id = _event_id(item, prefix, issues)
    if "kind" in item:
        event = generic.translate(item, prefix, now, issues)
    else:
        shape = seed000.recognise(item)
        if shape is None:
            issues.append(
                Issue(
                    prefix or "$",
                    "unrecognised event: expected a task status message "
                    "(id_task), an agent ping or incident (id_agent), or a 'kind'",
                )
            )
            return None
        event = seed000.translate(item, shape, prefix, now, issues)
    if event is not None:
        event.event_id = event_id
        event.received_at = now
    return event


def decode_events(
    body: bytes, content_type: str | None, *, max_items: int = 100_000
) -> list[Event]:
    """Decode and validate a whole body; raises :class:`MalformedBody` or :class:`InvalidBatch`."""
    items, batched = load_items(body, content_type)
    if len(items) > max_items:
        raise InvalidBatch([Issue("$", f"at most {max_items} events per request")])
    if not items:
        raise InvalidBatch([Issue("$", "no events in the body")])
    now = time.time()
    issues: list[Issue] = []
    events: list[Event] = []
    for index, item in enumerate(items):
        event = translate_item(item, f"[{index}]" if batched else "", now, issues)
        if event is not None:
            events.append(event)
    if issues:
        raise InvalidBatch(issues)
    return events


def _event_id(item: Mapping[str, Any], prefix: str, issues: list[Issue]) -> str | None:
    value = item.get("event_id")
    if value is None:
        return None
    path = f"{prefix}.event_id" if prefix else "event_id"
    if (
        isinstance(value, bool)
        or not isinstance(value, str | int)
        or not str(value)
        or len(str(value)) > 200
    ):
        issues.append(Issue(path, "expected a string of 1 to 200 characters"))
        return None
    text = str(value)
    if NUL in text:
        issues.append(Issue(path, NUL_REASON))
        return None
    return text
