"""Event times: the seed-000 ``YYYY-MM-DD HH:MM:SS.mmm`` form, ISO 8601, or an epoch number.

Times are kept as float epoch seconds (UTC) everywhere inside watchkeeper: they compare, sort
and subtract cheaply and mean the same on SQLite and PostgreSQL.

Two rules keep every stored time showable as a date:

* an epoch number's unit is decided by its magnitude, because senders use all four: below
  10^11 it is seconds, below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds;
* a time must fall between :data:`MIN_TIME` (1970-01-01) and :data:`MAX_TIME` (2200-01-01),
  whatever form it came in; anything else is refused with the accepted range.

Reading never fails either: a stored value that no date can show (the log of an older version
may hold one) is rendered as the raw number.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_NAIVE_EPOCH = datetime(1970, 1, 1)

#: The accepted range of event and query times, in epoch seconds (both ends included).
MIN_TIME = 0.0
MAX_TIME = 7_258_118_400.0  # 2200-01-01T00:00:00Z
#: Upper bounds (exclusive) of an epoch number read as seconds, milliseconds, microseconds;
#: anything larger is nanoseconds.
_UNITS = ((1e11, 1.0), (1e14, 1e-3), (1e17, 1e-6))
_RANGE = "1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z"


def epoch_seconds(number: float) -> float:
    """Epoch seconds from an epoch number in seconds, ms, µs or ns (decided by magnitude)."""
    size = abs(number)
    for bound, scale in _UNITS:
        if size < bound:
            return number * scale
    return number * 1e-9


def in_range(ts: float) -> bool:
    """Whether ``ts`` is a time watchkeeper accepts (NaN is not)."""
    return MIN_TIME <= ts <= MAX_TIME


def parse_time(value: object) -> float:
    """Return epoch seconds for a time given as text or a number, within the accepted range.

    Naive texts are UTC, as the fleet's messages carry no zone. Raises ``ValueError`` with a
    human reason (the value and the accepted range) for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("expected a time, got a boolean")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite epoch time")
        try:
            ts = epoch_seconds(float(value))
        except OverflowError:  # an integer beyond any float: out of range
            ts = math.nan
    elif isinstance(value, str):
        ts = _parse_text(value)
    else:
        raise ValueError(
            "expected a time as 'YYYY-MM-DD HH:MM:SS.mmm', ISO 8601 or an epoch number"
        )
    return checked(ts, value)


def checked(ts: float, value: object) -> float:
    """``ts`` if it is in the accepted range, else ``ValueError`` naming ``value`` (what was
    sent) and the range."""
    if not in_range(ts):
        raise ValueError(
            f"{value!r} is outside the accepted range {_RANGE} (an epoch number is read as "
            "seconds, milliseconds, microseconds or nanoseconds by its magnitude)"
        )
    return ts


def _parse_text(value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"invalid time {value!r}: expected 'YYYY-MM-DD HH:MM:SS.mmm' or ISO 8601"
            ) from None
    try:
        if parsed.tzinfo is None:
            # Subtracting naive datetimes is the cheapest exact way to epoch seconds in UTC.
            return (parsed - _NAIVE_EPOCH).total_seconds()
        return parsed.timestamp()
    except (OverflowError, ValueError):
        return math.nan  # a zone offset pushed it off the calendar: out of range


def to_datetime(ts: float) -> datetime | None:
    """``ts`` as an aware UTC datetime, or ``None`` if no datetime can show it."""
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def raw(ts: float) -> str:
    """A stored time no date can show, as its number (``1e+300``)."""
    return repr(float(ts))


def iso(ts: float | None) -> str | None:
    """Format epoch seconds as ISO 8601 UTC with milliseconds (what the API and charts return);
    a value no date can show comes back as its raw number, never as an error."""
    if ts is None:
        return None
    moment = to_datetime(ts)
    if moment is None:
        return raw(ts)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def strftime(ts: float, fmt: str) -> str:
    """``ts`` formatted with ``fmt`` (UTC), or its raw number if no date can show it."""
    moment = to_datetime(ts)
    return raw(ts) if moment is None else moment.strftime(fmt)


def seconds_of(text: str) -> float:
    """Epoch seconds back from what :func:`iso` produced (a date or a raw number), without the
    range check that input times get: for rendering what is stored."""
    try:
        return _parse_text(text)
    except ValueError:
        return float(text)
