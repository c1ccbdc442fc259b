"""Reading the event log: pages by ``seq`` for the API, the live stream and rebuilds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.timefmt import iso
from watchkeeper.store.tables import events


def read(
    conn: sa.Connection, *, since_seq: int = 0, kinds: list[str] | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Events with ``seq > since_seq`` in order, as API dictionaries."""
    query = sa.select(events).where(events.c.seq > since_seq)
    if kinds:
        query = query.where(events.c.kind.in_(kinds))
    rows = conn.execute(query.order_by(events.c.seq).limit(limit))
    return [as_dict(row) for row in rows]


def as_dict(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "event_id": row.event_id,
        "kind": row.kind,
        "ts": iso(row.ts),
        "received_at": iso(row.received_at),
        "level": row.level,
        "source": row.source,
        "subject": row.subject,
        "attrs": orjson.loads(row.attrs),
        "body": orjson.loads(row.body),
    }


def last_seq(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(events.c.seq))).scalar() or 0


def received_since(conn: sa.Connection, since: float) -> int:
    """How many events were received at or after ``since`` (the ingest rate's numerator).

    Receive times grow with ``seq`` (batches are stamped on arrival and committed in order), so
    a binary search over ``seq`` finds the first such event with a few primary-key lookups
    instead of a scan of the log.
    """
    # Two statements: SQLite answers a lone min() or max() from the key, but not both at once.
    low = conn.execute(sa.select(sa.func.min(events.c.seq))).scalar()
    high = top = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar()
    if low is None or high is None or top is None:
        return 0
    first = high + 1
    while low <= high:
        middle = (low + high) // 2
        row = conn.execute(
            sa.select(events.c.seq, events.c.received_at)
            .where(events.c.seq >= middle)
            .order_by(events.c.seq)
            .limit(1)
        ).one()
        if row.received_at >= since:
            first = row.seq
            high = middle - 1
        else:
            low = row.seq + 1
    if first > top:
        return 0
    query = sa.select(sa.func.count()).select_from(events).where(events.c.seq >= first)
    return conn.execute(query).scalar_one()


def count(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()


def replay(conn: sa.Connection, *, page: int = 5000) -> Iterator[list[Event]]:
    """Every stored event as :class:`Event` objects, in ``seq`` order, a page at a time."""
    after = 0
    while True:
        rows = conn.execute(
            sa.select(events).where(events.c.seq > after).order_by(events.c.seq).limit(page)
        ).all()
        if not rows:
            return
        yield [
            Event(
                kind=r.kind,
                ts=r.ts,
                level=r.level,
                source=r.source,
                subject=r.subject,
                attrs=orjson.loads(r.attrs),
                body=None,
                event_id=r.event_id,
                received_at=r.received_at,
                seq=r.seq,
            )
            for r in rows
        ]
        after = rows[-1].seq
