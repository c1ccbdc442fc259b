"""The KPIs (offspot's ids, 2001-2999): each one's value over a period, computed from the
hourly indicator records.

A KPI is a small class with an ``id`` and ``compute(conn, start, stop)`` returning a JSON
value; users add their own through the ``watchkeeper.kpis`` entry point group.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any, Protocol

import sqlalchemy as sa

from watchkeeper.store.tables import metadata

records = sa.Table(
    "kpi_records",
    metadata,
    sa.Column("indicator_id", sa.Integer, primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True),
    sa.Column("value0", sa.Text, primary_key=True),
    sa.Column("value1", sa.Text, primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("bits", sa.BigInteger, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Index("ix_kpi_records_hour", "hour"),
)


class Kpi(Protocol):
    @property
    def id(self) -> int: ...

    def compute(self, conn: sa.Connection, start: int, stop: int) -> Any:
        """The KPI's value over the hours in ``[start, stop)``."""


def _sums(
    conn: sa.Connection, indicator: int, start: int, stop: int, *, by_item: bool = False
) -> list[tuple[str, str, int]]:
    """``(value0, value1, total)`` per dimension, largest first, then by name."""
    r = records.c
    total = sa.func.sum(r.value).label("total")
    keys = [r.value0, r.value1] if by_item else [r.value0]
    rows = conn.execute(
        sa.select(*keys, total)
        .where(r.indicator_id == indicator, r.hour >= start, r.hour < stop)
        .group_by(*keys)
        .order_by(total.desc(), *keys)
    ).all()
    return [(row[0], row[1] if by_item else "", int(row[-1])) for row in rows]


class PackagePopularity:
    id = 2001
    top = 10

    def compute(self, conn: sa.Connection, start: int, stop: int) -> Any:
        rows = _sums(conn, 1001, start, stop)
        return {
            "items": [{"package": p, "visits": n} for p, _, n in rows[: self.top]],
            "totalVisits": sum(n for _, _, n in rows),
        }


class ContentObjectPopularity:
    """The seed's top items: the 50 most read ZIM items, with their share of all reads."""

    id = 2002
    top = 50

    def compute(self, conn: sa.Connection, start: int, stop: int) -> Any:
        rows = _sums(conn, 1002, start, stop, by_item=True)
        total = sum(n for _, _, n in rows)
        return [
            {"content": c, "item": i, "count": n, "percentage": round(n * 100 / total, 2)}
            for c, i, n in rows[: self.top]
        ]


class TotalUsage:
    id = 2003
    top = 10

    def compute(self, conn: sa.Connection, start: int, stop: int) -> Any:
        overall = _sums(conn, 1005, start, stop)
        rows = _sums(conn, 1006, start, stop)
        return {
            "totalMinutesActivity": sum(n for _, _, n in overall),
            "items": [{"package": p, "minutesActivity": n} for p, _, n in rows[: self.top]],
        }


class Uptime:
    id = 2004

    def compute(self, conn: sa.Connection, start: int, stop: int) -> Any:
        return {"nbMinutesOn": sum(n for _, _, n in _sums(conn, 1004, start, stop))}


class SharedFiles:
    id = 2005

    def compute(self, conn: sa.Connection, start: int, stop: int) -> Any:
        counts = {kind: n for kind, _, n in _sums(conn, 1003, start, stop)}
        return {
            "filesCreated": counts.get("FILE_CREATED", 0),
            "filesDeleted": counts.get("FILE_DELETED", 0),
        }


BUILTIN: tuple[Kpi, ...] = (
    PackagePopularity(),
    ContentObjectPopularity(),
    TotalUsage(),
    Uptime(),
    SharedFiles(),
)


def load() -> tuple[Kpi, ...]:
    """The built-in KPIs and those installed packages declare."""
    found: list[Kpi] = list(BUILTIN)
    for entry in entry_points(group="watchkeeper.kpis"):
        loaded = entry.load()
        kpi = loaded() if isinstance(loaded, type) else loaded
        if not 2001 <= kpi.id <= 2999:
            raise ValueError(f"KPI {entry.name}: id must be within 2001-2999")
        found.append(kpi)
    ids = [k.id for k in found]
    if len(ids) != len(set(ids)):
        raise ValueError(f"KPI ids must be unique: {sorted(ids)}")
    return tuple(found)


def ids(kpis: Iterable[Kpi]) -> list[int]:
    return sorted(k.id for k in kpis)
