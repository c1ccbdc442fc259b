"""Query and path parameters shared by routers: numbers, times, windows and cursors.

Every number a request names must be one the database can compare: integers fit 64 bits
(:data:`Int64`, :func:`parse_int`), written in ASCII digits, and no text carries NUL
(:func:`refuse_nul`). Each refusal names the parameter.
"""

from __future__ import annotations

import base64
import math
import re
import time
from typing import Annotated, Any

import annotated_types
import orjson
from fastapi import Query, Request

from watchkeeper.api.errors import ApiError
from watchkeeper.events.fields import MAX_INT, MIN_INT, NUL, NUL_REASON, int_from_text
from watchkeeper.events.timefmt import checked, epoch_seconds, parse_time

#: An integer query or path parameter that fits a 64-bit column; add the route's own bounds
#: with ``Query(ge=...)``, e.g. ``Annotated[Int64, Query(ge=0)]``.
Int64 = Annotated[int, annotated_types.Interval(ge=MIN_INT, le=MAX_INT)]

#: Chart buckets of less than a millisecond are refused rather than counted.
MIN_INTERVAL = 0.001
Interval = Annotated[
    float | None,
    Query(ge=MIN_INTERVAL, allow_inf_nan=False, description="bucket seconds"),
]


def parse_int(name: str, value: str, *, where: str = "query", low: int = 0) -> int:
    """An integer parameter in ASCII digits, from ``low`` up to the 64-bit limit, or 422."""
    number = int_from_text(value, low=low)
    if number is None:
        raise ApiError(
            422,
            f"invalid {name}",
            [
                {
                    "path": f"{where}.{name}",
                    "reason": f"expected an integer from {low} to {MAX_INT} in ASCII digits, "
                    f"got {value[:40]!r}",
                }
            ],
        )
    return number


def refuse_nul(request: Request) -> None:
    """Refuse a request whose path or query parameters hold NUL (PostgreSQL text cannot)."""
    scope = request.scope
    if NUL not in scope["path"] and b"%00" not in scope["query_string"]:
        return  # the usual request: nothing to look for parameter by parameter
    pairs = [
        *(("path", name, value) for name, value in request.path_params.items()),
        *(("query", name, value) for name, value in request.query_params.multi_items()),
    ]
    for where, name, value in pairs:
        if isinstance(value, str) and NUL in value:
            raise ApiError(
                400, f"invalid {name}", [{"path": f"{where}.{name}", "reason": NUL_REASON}]
            )


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
    try:
        if match and (text.startswith(("-", "now-"))):
            return checked(now - float(match.group(1)) * _UNITS[match.group(2)], text)
        try:
            # An epoch number, in any of the units events use (Grafana sends milliseconds).
            number = float(text)
        except ValueError:
            return parse_time(text)
        return checked(epoch_seconds(number), text)
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


def decode_cursor(value: str | None, *, numeric_first: bool) -> tuple[Any, ...] | None:
    """The key of a keyset cursor: a value of the sort column (a number for times, else text)
    and an id, each of a type the database can compare with its column."""
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        key = orjson.loads(raw)
        if not isinstance(key, list) or len(key) != 2:
            raise ValueError
        first, second = key
        if numeric_first:
            if type(first) not in (int, float) or not math.isfinite(first):
                raise ValueError
        elif not _comparable_text(first):
            raise ValueError
        if not _comparable_text(second):
            raise ValueError
        return tuple(key)
    except ValueError:
        raise ApiError(
            422,
            "invalid cursor",
            [{"path": "query.cursor", "reason": "not a cursor this server issued"}],
        ) from None


def _comparable_text(value: object) -> bool:
    return type(value) is str and len(value) <= 200 and NUL not in value
