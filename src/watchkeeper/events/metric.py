"""``metric.series``: one flush of numeric series, from an agent's program or the server's
statsd input.

``series`` is a list of ``[name, value]`` or ``[name, value, {tag: value}]``; ``agent`` (the
agent's id) is optional, as the server's own statsd input has none. A batch with one bad entry
is refused whole, each issue naming its entry, so the metrics view only ever folds finite
numbers under bounded names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from watchkeeper.events.fields import NUL, Fields

METRIC_SERIES = "metric.series"
MAX_NAME = 200
MAX_TAGS = 20
MAX_TAG_TEXT = 200
MAX_SERIES = 100_000

#: One sample as the metrics view reads it: name, value, tags (None without any).
Sample = tuple[str, float, dict[str, str] | None]


def translate(f: Fields) -> dict[str, Any] | None:
    """The attributes of a ``metric.series`` item, or None after recording its issues."""
    agent = f.ident("agent")
    interval = f.obj.get("interval")
    if interval is not None and (not _is_number(interval) or interval <= 0):
        f.fail("interval", "expected a positive number of seconds")
    series = f.obj.get("series")
    if not isinstance(series, list):
        f.fail("series", "expected a list of [name, value] or [name, value, tags]")
        return None
    if len(series) > MAX_SERIES:
        f.fail("series", f"more than {MAX_SERIES} entries")
        return None
    for i, entry in enumerate(series):
        reason = entry_reason(entry)
        if reason is not None:
            f.fail(f"series[{i}]", reason)
    # The views see attributes only (a replay does not decode bodies): the series go there.
    return {"agent": agent, "series": series}


def entry_reason(entry: object) -> str | None:
    if not isinstance(entry, list) or len(entry) not in (2, 3):
        return "expected [name, value] or [name, value, tags]"
    name, value = entry[0], entry[1]
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or NUL in name:
        return f"name must be a string of 1 to {MAX_NAME} characters without NUL"
    if not _is_number(value):
        return "value must be a finite number"
    if len(entry) == 3 and entry[2] is not None:
        return tags_reason(entry[2])
    return None


def tags_reason(tags: object) -> str | None:
    if not isinstance(tags, dict):
        return "tags must be an object of strings"
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags"
    for key, value in tags.items():
        if not isinstance(value, str) or not key or len(key) > MAX_TAG_TEXT:
            return f"tag {str(key)[:40]!r}: names and values are strings (at most 200)"
        if len(value) > MAX_TAG_TEXT or NUL in key or NUL in value:
            return f"tag {key[:40]!r}: at most {MAX_TAG_TEXT} characters, no NUL"
    return None


def samples(attrs: Mapping[str, Any]) -> list[Sample]:
    """The valid entries of an event's attributes (an entry stored before validation was
    tightened is skipped, never fatal to the view)."""
    series = attrs.get("series")
    if not isinstance(series, list):
        return []
    out: list[Sample] = []
    for entry in series:
        if entry_reason(entry) is None:
            tags = entry[2] if len(entry) == 3 and entry[2] else None
            out.append((entry[0], float(entry[1]), tags))
    return out


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]
