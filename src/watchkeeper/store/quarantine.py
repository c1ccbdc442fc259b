"""Events moved out of the log because no date can show their time.

Older versions stored times outside the accepted range (1970 to 2200: an epoch in
milliseconds read as seconds, ``1e300``); every read of such an event failed. Each one is moved
whole into ``events_quarantine``, with the reason, and its place in the log is kept by a
marker event of kind :data:`MARKER` (same ``seq``, time of receipt, no view consumes it), so
``seq`` stays gap-free and no later event ever takes that ``seq``. ``watchkeeper db check``
lists what was moved; the views are rebuilt without it once
(:func:`watchkeeper.store.rebuild.heal`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa

from watchkeeper.events.timefmt import MAX_TIME, MIN_TIME, iso
from watchkeeper.store.tables import Time, event_columns, events, metadata

#: The kind of the marker left in the log where an event was moved aside.
MARKER = "log.quarantined"

quarantine = sa.Table(
    "events_quarantine",
    metadata,
    *event_columns(),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("quarantined_at", Time, nullable=False),
    #: False until the views have been rebuilt without this event.
    sa.Column("views_rebuilt", sa.Boolean, nullable=False),
)

RANGE = f"{iso(MIN_TIME)} to {iso(MAX_TIME)}"
_COPIED = (
    "seq", "event_id", "kind", "ts", "received_at", "level", "source", "subject", "attrs", "body",
)  # fmt: skip


def _outside(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    # NOT BETWEEN also holds for PostgreSQL's NaN, which sorts above every number.
    return sa.not_(column.between(MIN_TIME, MAX_TIME))


#: Events with a time outside the accepted range (the times no date can show among them).
UNSHOWABLE = sa.or_(_outside(events.c.ts), _outside(events.c.received_at))


def move_aside(conn: sa.Connection, *, now: float | None = None) -> int:
    """Move every event of the log whose time cannot be shown into the quarantine table,
    leaving a marker in its place; returns how many were moved. Runs inside ``conn``'s
    transaction (the migration's, or a rebuild's), as two statements whatever the number of
    events: a fleet that sent milliseconds as seconds for months left millions."""
    now = time.time() if now is None else now
    ts, received = events.c.ts, events.c.received_at
    reason = sa.case(
        (sa.and_(_outside(ts), _outside(received)), f"ts and received_at outside {RANGE}"),
        (_outside(ts), f"ts outside {RANGE}"),
        else_=f"received_at outside {RANGE}",
    )
    copied = [events.c[name] for name in _COPIED]
    moved = sa.select(*copied, reason, sa.literal(now, Time), sa.false()).where(UNSHOWABLE)
    columns = [*_COPIED, "reason", "quarantined_at", "views_rebuilt"]
    conn.execute(quarantine.insert().from_select(columns, moved))
    # Built by the database: a number and one of the fixed reasons need no JSON escaping.
    attrs = (
        sa.literal('{"seq": ') + sa.cast(events.c.seq, sa.String) + ', "reason": "' + reason + '"}'
    )
    at = sa.case((_outside(received), now), else_=received)
    marked = conn.execute(
        events.update()
        .where(UNSHOWABLE)
        .values(
            event_id=None,
            kind=MARKER,
            ts=at,
            received_at=at,
            level="warning",
            source=None,
            subject=None,
            attrs=attrs,
            body="null",
        )
    )
    return marked.rowcount


def listed(conn: sa.Connection) -> list[dict[str, Any]]:
    """The quarantined events, oldest ``seq`` first, as :command:`watchkeeper db check` shows
    them (times no date can show are given raw)."""
    rows = conn.execute(sa.select(quarantine).order_by(quarantine.c.seq)).all()
    return [
        {
            "seq": r.seq,
            "event_id": r.event_id,
            "kind": r.kind,
            "ts": iso(r.ts),
            "received_at": iso(r.received_at),
            "reason": r.reason,
            "quarantined_at": iso(r.quarantined_at),
            "body": orjson.loads(r.body),
        }
        for r in rows
    ]


def unshowable_in_log(conn: sa.Connection) -> int:
    """How many events of the log cannot be shown (zero once the migration has run)."""
    query = sa.select(sa.func.count()).select_from(events).where(UNSHOWABLE)
    return conn.execute(query).scalar_one()


def needs_rebuild(conn: sa.Connection) -> bool:
    """Whether events were moved aside since the views were last rebuilt."""
    query = sa.select(quarantine.c.seq).where(quarantine.c.views_rebuilt.is_(False)).limit(1)
    return conn.execute(query).first() is not None


def mark_rebuilt(conn: sa.Connection) -> None:
    conn.execute(
        quarantine.update().where(quarantine.c.views_rebuilt.is_(False)).values(views_rebuilt=True)
    )
