"""Query parameters shared by routers: times, windows and cursors."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import orjson

from watchkeeper.api.errors import ApiError
from watchkeeper.events.timefmt import parse_time

_RELATIVE = re.compile(r"^(?:now)?-?(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(name: str, value: str | None, *, now: float | None = None) -> float | None:
    """A time parameter: ISO 8601, epoch seconds (or ms, as Grafana sends), ``now``, or a
    relative ``-1h`` / ``now-15m``."""
    if value is None or value == "":
        return None
    text = value.strip()
    now = time.time() if now is None else now
    if text == "now":
        return now
    match = _RELATIVE.match(text.replace("now-", "-"))
    if match and (text.startswith(("-", "now-"))):
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return number / 1000.0 if number > 1e11 else number
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ApiError(
            422, f"invalid {name}", [{"path": f"query.{name}", "reason": str(exc)}]
        ) from None


def window(since: str | None, until: str | None, default: float = 3600.0) -> tuple[float, float]:
    """``[since, until]`` with defaults: until now, and ``default`` seconds back."""
    now = time.time()
    end = parse_when("until", until, now=now)
    end = now if end is None else end
    start = parse_when("since", since, now=now)
    start = end - default if start is None else start
    if start > end:
        raise ApiError(
            422,
            "since is after until",
            [{"path": "query.since", "reason": "must not be after until"}],
        )
    return start, end


def encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(value: str | None) -> tuple[Any, ...] | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        key = orjson.loads(raw)
        if not isinstance(key, list) or len(key) != 2:
            raise ValueError
        return tuple(key)
    except ValueError:
        raise ApiError(
            422,
            "invalid cursor",
            [{"path": "query.cursor", "reason": "not a cursor this server issued"}],
        ) from None
