"""The KPIs view: hourly indicator records and the D/W/M/Y KPI values made from them.

It folds ``kpi.delta`` events (what a batch of log lines added to the indicators, per hour).
The latest hour seen is the current one: its records are the indicator state offspot kept in
memory, saved with every batch. An hour before it is closed; whenever closed hours changed,
the KPIs of the day, week, month and year holding them are recomputed in the same
transaction, then values out of retention (7 days, 4 weeks, 12 months; years are kept) and
records older than a year are deleted. "Now" is the latest hour of the data, never the wall
clock, so a rebuild from the log gives the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.store.tables import metadata
from watchkeeper.store.view import chunks
from watchkeeper.views import kpi_periods as periods
from watchkeeper.views.kpi_defs import Kpi, load, records

KIND = "kpi.delta"
RULES = ("sum", "slots", "minutes")

hours = sa.Table(
    "kpi_hours",
    metadata,
    sa.Column("hour", sa.BigInteger, primary_key=True),
    #: Changed since its KPIs were last computed.
    sa.Column("dirty", sa.Boolean, nullable=False),
)
values = sa.Table(
    "kpi_values",
    metadata,
    sa.Column("kpi_id", sa.Integer, primary_key=True),
    sa.Column("agg_kind", sa.String(1), primary_key=True),
    sa.Column("agg_value", sa.String(16), primary_key=True),
    sa.Column("kpi_value", sa.Text, nullable=False),
)

Key = tuple[int, int, str, str]


def slot_value(bits: int) -> int:
    """offspot's usage: 10 minutes per active 10-minute slot, slots aligned on the first
    active minute of the hour."""
    if not bits:
        return 0
    first = (bits & -bits).bit_length() - 1
    return 10 * len({(m - first) // 10 for m in range(first, 60) if bits >> m & 1})


def hour_value(rule: str, amount: int, bits: int) -> int:
    if rule == "slots":
        return slot_value(bits)
    if rule == "minutes":
        return bits.bit_count()
    return amount


class KpisView:
    name = "kpis"
    kinds = frozenset({KIND})
    tables = (records, hours, values)

    def __init__(self) -> None:
        self._kpis: tuple[Kpi, ...] | None = None

    @property
    def kpis(self) -> tuple[Kpi, ...]:
        if self._kpis is None:
            self._kpis = load()
        return self._kpis

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        delta: dict[Key, list[Any]] = {}
        for event in events:
            for ind, hour, v0, v1, amount, bits, rule in event.attrs.get("rows", ()):
                key = (int(ind), int(hour), str(v0), str(v1))
                cell = delta.get(key)
                if cell is None:
                    delta[key] = [int(amount), int(bits), str(rule)]
                else:
                    cell[0] += int(amount)
                    cell[1] |= int(bits)
        if delta:
            self._fold(conn, delta)
            self._close(conn)

    def _fold(self, conn: sa.Connection, delta: dict[Key, list[Any]]) -> None:
        r = records.c
        touched = sorted({key[1] for key in delta})
        stored: dict[Key, tuple[int, int]] = {}
        for part in chunks(touched):
            for got in conn.execute(
                sa.select(r.indicator_id, r.hour, r.value0, r.value1, r.amount, r.bits).where(
                    r.hour.in_(part)
                )
            ):
                stored[(got[0], got[1], got[2], got[3])] = (got[4], got[5])
        inserts, updates = [], []
        for key, (amount, bits, rule) in delta.items():
            old = stored.get(key)
            if old is not None:
                amount, bits = amount + old[0], bits | old[1]
            row = {"amount": amount, "bits": bits, "value": hour_value(rule, amount, bits)}
            ind, hour, v0, v1 = key
            if old is None:
                inserts.append(
                    {"indicator_id": ind, "hour": hour, "value0": v0, "value1": v1, **row}
                )
            else:
                updates.append({"k_i": ind, "k_h": hour, "k_0": v0, "k_1": v1, **row})
        if inserts:
            conn.execute(records.insert(), inserts)
        if updates:
            conn.execute(
                records.update()
                .where(
                    r.indicator_id == sa.bindparam("k_i"),
                    r.hour == sa.bindparam("k_h"),
                    r.value0 == sa.bindparam("k_0"),
                    r.value1 == sa.bindparam("k_1"),
                )
                .values(
                    amount=sa.bindparam("amount"),
                    bits=sa.bindparam("bits"),
                    value=sa.bindparam("value"),
                ),
                updates,
            )
        known: set[int] = set()
        for part in chunks(touched):
            known.update(
                conn.execute(sa.select(hours.c.hour).where(hours.c.hour.in_(part))).scalars()
            )
        if known:
            conn.execute(hours.update().where(hours.c.hour.in_(sorted(known))).values(dirty=True))
        fresh = [{"hour": h, "dirty": True} for h in touched if h not in known]
        if fresh:
            conn.execute(hours.insert(), fresh)

    def _close(self, conn: sa.Connection) -> None:
        latest = conn.execute(sa.select(sa.func.max(hours.c.hour))).scalar_one()
        closed = list(
            conn.execute(
                sa.select(hours.c.hour).where(hours.c.dirty.is_(True), hours.c.hour < latest)
            ).scalars()
        )
        if not closed:
            return
        wanted = {(kind, periods.value_of(kind, h)) for h in closed for kind in periods.KINDS}
        keep = {kind: periods.kept(kind, latest) for kind in periods.KINDS}
        rows = []
        for kind, value in sorted(wanted):
            if keep[kind] is not None and value not in keep[kind]:  # type: ignore[operator]
                continue
            start, stop = periods.interval(kind, value)
            stop = min(stop, latest)  # closed hours only: the current one is still filling
            for kpi in self.kpis:
                text = orjson.dumps(kpi.compute(conn, start, stop)).decode()
                rows.append(
                    {"kpi_id": kpi.id, "agg_kind": kind, "agg_value": value, "kpi_value": text}
                )
        for part in chunks(closed):
            conn.execute(hours.update().where(hours.c.hour.in_(part)).values(dirty=False))
        for row in rows:
            v = values.c
            conn.execute(
                values.delete().where(
                    v.kpi_id == row["kpi_id"],
                    v.agg_kind == row["agg_kind"],
                    v.agg_value == row["agg_value"],
                )
            )
        if rows:
            conn.execute(values.insert(), rows)
        self._prune(conn, latest, keep)

    def _prune(self, conn: sa.Connection, latest: int, keep: dict[str, set[str] | None]) -> None:
        v = values.c
        for kind, kept in keep.items():
            if kept is not None:
                conn.execute(
                    values.delete().where(v.agg_kind == kind, v.agg_value.not_in(sorted(kept)))
                )
        oldest = latest - periods.RECORDS_KEPT
        conn.execute(records.delete().where(records.c.hour < oldest))
        conn.execute(hours.delete().where(hours.c.hour < oldest))


VIEW = KpisView()


# Queries the API and the dashboard read.


def aggregations(conn: sa.Connection) -> list[dict[str, str]]:
    v = values.c
    rows = conn.execute(
        sa.select(v.agg_kind, v.agg_value).distinct().order_by(v.agg_kind, v.agg_value)
    )
    return [{"kind": kind, "value": value} for kind, value in rows]


def by_kind(conn: sa.Connection, kind: str) -> dict[str, Any]:
    v = values.c
    rows = conn.execute(
        sa.select(v.agg_value, v.kpi_id, v.kpi_value)
        .where(v.agg_kind == kind)
        .order_by(v.kpi_id, v.agg_value)
    ).all()
    available = sorted({row[0] for row in rows})
    kpis: dict[int, list[dict[str, Any]]] = {}
    for value, kpi_id, text in rows:
        kpis.setdefault(kpi_id, []).append({"aggValue": value, "kpiValue": orjson.loads(text)})
    return {
        "aggKind": kind,
        "valuesAvailable": available,
        "valuesAll": periods.values_all(kind, available),
        "kpis": [{"kpiId": kpi_id, "values": vals} for kpi_id, vals in kpis.items()],
    }


def value(conn: sa.Connection, kpi_id: int, kind: str, agg_value: str) -> Any | None:
    v = values.c
    text = conn.execute(
        sa.select(v.kpi_value).where(
            v.kpi_id == kpi_id, v.agg_kind == kind, v.agg_value == agg_value
        )
    ).scalar_one_or_none()
    return None if text is None else orjson.loads(text)


def latest_hour(conn: sa.Connection) -> int | None:
    latest = conn.execute(sa.select(sa.func.max(hours.c.hour))).scalar_one()
    return None if latest is None else int(latest)
