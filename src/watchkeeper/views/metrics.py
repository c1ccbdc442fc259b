"""Metric series: every ``metric.series`` sample, kept at three resolutions.

A sample is folded at once into its raw row, its minute and its hour: each row keeps the sum,
count, min and max of what fell in it, so an average (sum / count) or a rate (sum / seconds)
over any window is exact at every resolution, not an average of averages. Each resolution is
kept for its own retention (:data:`RETENTION`), measured from when the newest events were
received (not from their timestamps, which a skewed clock could set in the future), so the
tables stay bounded whatever the traffic, and a rebuild prunes as the live writer did.

A series is a name, the agent that sent it ('' for the server's statsd input) and its tags;
it also keeps its latest value, which the Prometheus exposition reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.metric import METRIC_SERIES, samples
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import chunks, dumps, loads

#: The resolutions in seconds (0 is raw) and how long each is kept, in seconds.
RAW, MINUTE, HOUR = 0, 60, 3600
RETENTION: dict[int, float] = {RAW: 2 * 86400.0, MINUTE: 35 * 86400.0, HOUR: 400 * 86400.0}

metric_series = sa.Table(
    "metric_series",
    metadata,
    sa.Column("id", BigKey, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("agent", sa.String(200), nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("first_ts", Time, nullable=False),
    sa.Column("last_ts", Time, nullable=False),
    sa.Column("last_value", sa.Double, nullable=False),
    sa.Column("received_at", Time, nullable=False),
    sa.UniqueConstraint("name", "agent", "tags", name="uq_metric_series_key"),
    sa.Index("ix_metric_series_agent", "agent"),
    sa.Index("ix_metric_series_last_ts", "last_ts"),
    sa.Index("ix_metric_series_received_at", "received_at"),
)

metric_points = sa.Table(
    "metric_points",
    metadata,
    sa.Column("series_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("res", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", Time, primary_key=True),
    sa.Column("sum", sa.Double, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("min", sa.Double, nullable=False),
    sa.Column("max", sa.Double, nullable=False),
    sa.Index("ix_metric_points_res_ts", "res", "ts"),
)

_SERIES_COLUMNS = (
    "id",
    "name",
    "agent",
    "tags",
    "first_ts",
    "last_ts",
    "last_value",
    "received_at",
)
_SERIES_FOLD = {
    "first_ts": bulk.keep_min("first_ts"),
    # The latest value is the one of the latest sample, whatever order samples arrive in.
    "last_value": "CASE WHEN excluded.last_ts >= {t}.last_ts"
    " THEN excluded.last_value ELSE {t}.last_value END",
    "last_ts": bulk.keep_max("last_ts"),
    "received_at": bulk.keep_max("received_at"),
}
_POINT_COLUMNS = ("series_id", "res", "ts", "sum", "count", "min", "max")
_POINT_FOLD = {
    "sum": bulk.add("sum"),
    "count": bulk.add("count"),
    "min": bulk.keep_min("min"),
    "max": bulk.keep_max("max"),
}

SeriesKey = tuple[str, str, str]


def tags_text(tags: dict[str, str] | None) -> str:
    """Tags as stored: canonical JSON (sorted keys), '' for none, so equal tags are one key."""
    return dumps(dict(sorted(tags.items()))) if tags else ""


@dataclass(slots=True)
class _Acc:
    sum: float
    count: int
    min: float
    max: float

    def add(self, value: float) -> None:
        self.sum += value
        self.count += 1
        self.min = min(self.min, value)
        self.max = max(self.max, value)


class MetricsView:
    name = "metrics"
    kinds = frozenset({METRIC_SERIES})
    tables = (metric_series, metric_points)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        latest: dict[SeriesKey, tuple[float, float, float, float]] = {}
        points: dict[tuple[SeriesKey, int, float], _Acc] = {}
        now = 0.0
        for event in events:
            now = max(now, event.received_at)
            agent = str(event.attrs.get("agent") or "")
            for name, value, tags in samples(event.attrs):
                key = (name, agent, tags_text(tags))
                ts, seen = event.ts, event.received_at
                cur = latest.get(key)
                if cur is None:
                    latest[key] = (ts, ts, value, seen)
                elif ts >= cur[1]:
                    latest[key] = (min(cur[0], ts), ts, value, max(cur[3], seen))
                else:
                    latest[key] = (min(cur[0], ts), cur[1], cur[2], max(cur[3], seen))
                for res in (RAW, MINUTE, HOUR):
                    start = ts if res == RAW else ts - ts % res
                    acc = points.get((key, res, start))
                    if acc is None:
                        points[(key, res, start)] = _Acc(value, 1, value, value)
                    else:
                        acc.add(value)
        if latest:
            ids = _series_ids(conn, list(latest))
            bulk.upsert(
                conn,
                metric_series,
                _SERIES_COLUMNS,
                ("id",),
                _SERIES_FOLD,
                [(ids[key], *key, *latest[key]) for key in latest],
            )
            bulk.upsert(
                conn,
                metric_points,
                _POINT_COLUMNS,
                ("series_id", "res", "ts"),
                _POINT_FOLD,
                [
                    (ids[key], res, ts, a.sum, a.count, a.min, a.max)
                    for (key, res, ts), a in points.items()
                ],
            )
        if now:
            prune(conn, now)


def _series_ids(conn: sa.Connection, keys: list[SeriesKey]) -> dict[SeriesKey, int]:
    """The id of every key, numbering the new ones after the highest (one writer, so no race)."""
    ids: dict[SeriesKey, int] = {}
    wanted = set(keys)
    s = metric_series.c
    for part in chunks(sorted({name for name, _, _ in keys})):
        for row in conn.execute(sa.select(s.id, s.name, s.agent, s.tags).where(s.name.in_(part))):
            key = (row.name, row.agent, row.tags)
            if key in wanted:
                ids[key] = row.id
    missing = [key for key in keys if key not in ids]
    if missing:
        top = conn.execute(sa.select(sa.func.max(s.id))).scalar() or 0
        for offset, key in enumerate(missing, start=1):
            ids[key] = top + offset
    return ids


def prune(conn: sa.Connection, now: float) -> None:
    """Drop what each resolution keeps no longer, and the series left without any point."""
    p = metric_points.c
    for res, keep in RETENTION.items():
        conn.execute(sa.delete(metric_points).where(p.res == res, p.ts < now - keep - res))
    oldest = now - RETENTION[HOUR] - HOUR
    conn.execute(sa.delete(metric_series).where(metric_series.c.last_ts < oldest))


VIEW = MetricsView()


# -- queries -----------------------------------------------------------------------------------


def resolution(since: float, step: float, now: float) -> int:
    """The coarsest stored resolution no coarser than ``step`` whose retention still covers
    ``since`` (falling back to coarser data where the finer one has been pruned)."""
    choice = HOUR if step >= HOUR else MINUTE if step >= MINUTE else RAW
    for res in (RAW, MINUTE, HOUR):
        if res >= choice and since >= now - RETENTION[res]:
            return res
    return HOUR


def find_series(
    conn: sa.Connection, name: str, *, agent: str | None, tags: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    """The series named ``name`` (of ``agent``, carrying at least ``tags``), at most ``limit``."""
    s = metric_series.c
    query = sa.select(s.id, s.agent, s.tags).where(s.name == name).order_by(s.agent, s.tags)
    if agent is not None:
        query = query.where(s.agent == agent)
    found = []
    for row in conn.execute(query):
        have = loads(row.tags) or {}
        if all(have.get(k) == v for k, v in tags.items()):
            found.append({"id": row.id, "agent": row.agent or None, "tags": have})
            if len(found) >= limit:
                break
    return found


def points(
    conn: sa.Connection, series_id: int, *, res: int, since: float, until: float, step: float
) -> list[dict[str, float]]:
    """The series' rows of resolution ``res`` in ``[since, until]``, merged into ``step``-wide
    buckets (``ts`` is a bucket's start): sum, count, min, max and the exact average."""
    p = metric_points.c
    start = since - since % step
    rows = conn.execute(
        sa.select(p.ts, p.sum, p.count, p.min, p.max)
        .where(p.series_id == series_id, p.res == res, p.ts >= start, p.ts <= until)
        .order_by(p.ts)
    )
    buckets: dict[float, _Acc] = {}
    for ts, total, count, low, high in rows:
        bucket = ts - ts % step
        acc = buckets.get(bucket)
        if acc is None:
            buckets[bucket] = _Acc(total, count, low, high)
        else:
            acc.sum += total
            acc.count += count
            acc.min = min(acc.min, low)
            acc.max = max(acc.max, high)
    return [
        {
            "ts": ts,
            "avg": a.sum / a.count,
            "min": a.min,
            "max": a.max,
            "sum": a.sum,
            "count": a.count,
        }
        for ts, a in buckets.items()
    ]


def names(
    conn: sa.Connection, *, agent: str | None, q: str | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Series names (containing ``q``), with how many series and their last sample time."""
    s = metric_series.c
    where = []
    if agent is not None:
        where.append(s.agent == agent)
    if q:
        where.append(s.name.contains(q, autoescape=True))
    grouped = (
        sa.select(s.name, sa.func.count().label("series"), sa.func.max(s.last_ts).label("last_ts"))
        .where(*where)
        .group_by(s.name)
    )
    total = conn.execute(sa.select(sa.func.count()).select_from(grouped.subquery())).scalar_one()
    rows = conn.execute(grouped.order_by(s.name).limit(limit))
    return [{"name": r.name, "series": r.series, "last_ts": r.last_ts} for r in rows], total


def latest(conn: sa.Connection, *, since: float) -> list[dict[str, Any]]:
    """Every series received since ``since`` (server time, so an agent's clock cannot keep a
    series alive): name, agent, tags and latest value."""
    s = metric_series.c
    rows = conn.execute(
        sa.select(s.name, s.agent, s.tags, s.last_value, s.last_ts)
        .where(s.received_at >= since)
        .order_by(s.name, s.agent, s.tags)
    )
    return [
        {
            "name": r.name,
            "agent": r.agent or None,
            "tags": loads(r.tags) or {},
            "value": r.last_value,
            "ts": r.last_ts,
        }
        for r in rows
    ]
