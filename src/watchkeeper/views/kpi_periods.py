"""Aggregation periods of the KPIs, in UTC: day ``YYYY-MM-DD``, ISO week ``YYYY Www``, month
``YYYY-MM`` and year ``YYYY``, and which of them are kept.

The week's year is the ISO year (offspot wrote the calendar year next to the ISO week number,
so 2023-01-01 and 2023-12-31 were both "2023 W52"; the ISO year keeps them apart).
Intervals are half-open, ``[start, stop)``: offspot's queries included the stop, so the first
hour of the next period was counted twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

KINDS = ("D", "W", "M", "Y")
#: How many values of each kind are kept, counting back from the latest (``None``: all).
KEEP: dict[str, int | None] = {"D": 7, "W": 4, "M": 12, "Y": None}
#: How many values ``valuesAll`` lists, ending at the latest available (offspot's choice).
SHOWN = {"D": 7, "W": 4, "M": 3}
#: Hourly records older than this (before the latest hour) are deleted.
RECORDS_KEPT = 366 * 86400


def _day(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def value_of(kind: str, ts: int) -> str:
    """The value of the ``kind`` period containing ``ts`` (epoch seconds)."""
    day = _day(ts)
    if kind == "D":
        return day.isoformat()
    if kind == "W":
        iso = day.isocalendar()
        return f"{iso.year:04} W{iso.week:02}"
    if kind == "M":
        return f"{day.year:04}-{day.month:02}"
    return f"{day.year:04}"


def start_of(kind: str, value: str) -> date:
    if kind == "D":
        return date.fromisoformat(value)
    if kind == "W":
        year, week = value.split(" W")
        return date.fromisocalendar(int(year), int(week), 1)
    if kind == "M":
        return date.fromisoformat(f"{value}-01")
    return date(int(value), 1, 1)


def _shift(kind: str, start: date, steps: int) -> date:
    if kind == "D":
        return start + timedelta(days=steps)
    if kind == "W":
        return start + timedelta(weeks=steps)
    months = start.year * 12 + start.month - 1 + (steps if kind == "M" else 12 * steps)
    return date(months // 12, months % 12 + 1, 1)


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def interval(kind: str, value: str) -> tuple[int, int]:
    """``[start, stop)`` of a period, in epoch seconds."""
    start = start_of(kind, value)
    return _epoch(start), _epoch(_shift(kind, start, 1))


def recent(kind: str, latest: str, count: int) -> list[str]:
    """The ``count`` values of ``kind`` ending at ``latest``, oldest first."""
    start = start_of(kind, latest)
    return [value_of(kind, _epoch(_shift(kind, start, -back))) for back in range(count - 1, -1, -1)]


def kept(kind: str, now: int) -> set[str] | None:
    """The values of ``kind`` kept when the latest hour is ``now`` (``None``: all)."""
    count = KEEP[kind]
    return None if count is None else set(recent(kind, value_of(kind, now), count))


def values_all(kind: str, available: list[str]) -> list[str]:
    """offspot's ``valuesAll``: the last few values up to the latest available, every year
    from the first to the last."""
    if not available:
        return []
    if kind == "Y":
        return [str(y) for y in range(int(available[0]), int(available[-1]) + 1)]
    return recent(kind, available[-1], SHOWN[kind])
