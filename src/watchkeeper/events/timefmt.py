"""Event times: the seed-000 ``YYYY-MM-DD HH:MM:SS.mmm`` form, ISO 8601, or epoch seconds.

Times are kept as float epoch seconds (UTC) everywhere inside watchkeeper: they compare, sort
and subtract cheaply and mean the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

_NAIVE_EPOCH = datetime(1970, 1, 1)


def parse_time(value: object) -> float:
    """Return epoch seconds for a time given as text or a number.

    Naive texts are UTC, as the fleet's messages carry no zone. Raises ``ValueError`` with a
    human reason for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("expected a time, got a boolean")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite epoch time")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a time as 'YYYY-MM-DD HH:MM:SS.mmm', ISO 8601 or epoch seconds")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"invalid time {value!r}: expected 'YYYY-MM-DD HH:MM:SS.mmm' or ISO 8601"
            ) from None
    if parsed.tzinfo is None:
        # Subtracting naive datetimes is the cheapest exact way to epoch seconds in UTC.
        return (parsed - _NAIVE_EPOCH).total_seconds()
    return parsed.timestamp()


def iso(ts: float | None) -> str | None:
    """Format epoch seconds as ISO 8601 UTC with milliseconds (what the API and charts return)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
