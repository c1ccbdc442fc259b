"""Silences: the stretches in which a component sent no ping, and the "no signal" they draw.

The components view records every silence between two pings of a component that lasts at
least :data:`SILENCE_FLOOR` seconds, in event time; a late ping (older than the last one) that
falls inside a recorded silence splits it, so the log replays into the same silences whatever
order its pings arrived in. Which silences are drawn depends on ``offline_after``, a setting,
so that is decided when reading: :func:`find` picks the silences longer than it and
:func:`cut` cuts them out of the state spans as :data:`NO_SIGNAL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import fold
from watchkeeper.store.tables import Time, metadata
from watchkeeper.views.base import chunks

#: What the timeline draws where a component sent nothing for longer than ``offline_after``.
NO_SIGNAL = "no signal"
#: Silences shorter than this are not recorded (an ``offline_after`` below it draws only the
#: silences at least this long). A constant, not a setting: a rebuild must record the same.
#: A minute keeps heartbeats of up to a minute (the usual) from adding a row per ping.
SILENCE_FLOOR = 60.0

component_silences = sa.Table(
    "component_silences",
    metadata,
    sa.Column("type", sa.String(100), primary_key=True),
    sa.Column("cid", sa.String(200), primary_key=True),
    sa.Column("start", Time, primary_key=True),
    sa.Column("end", Time, nullable=False),
)

Key = tuple[str, str]
Gap = tuple[float, float | None]


class Recorder:
    """Records the silences of the components whose pings a batch folds.

    ``ping`` is given each ping in ``seq`` order with the component's row (its ``last_ping``
    is kept up to date there); ``write`` stores what the batch recorded.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.new: dict[Key, list[list[float]]] = {}

    def ping(self, row: dict[str, Any], ts: float) -> None:
        last = row["last_ping"]
        key = (row["type"], row["id"])
        if last is None or ts > last:
            if last is not None and ts - last >= SILENCE_FLOOR:
                self.new.setdefault(key, []).append([last, ts])
            row["last_ping"] = ts
        elif ts < last:
            self._split(key, ts)

    def _split(self, key: Key, ts: float) -> None:
        pending = self.new.setdefault(key, [])
        inside = next((gap for gap in pending if gap[0] < ts < gap[1]), None)
        if inside is not None:
            pending.remove(inside)
        else:
            # Silences never overlap: the one holding ts, if any, is the last to start before it.
            s = component_silences
            lane = (s.c.type == key[0], s.c.cid == key[1])
            found = self.conn.execute(
                sa.select(s.c.start, s.c.end)
                .where(*lane, s.c.start < ts)
                .order_by(s.c.start.desc())
                .limit(1)
            ).first()
            if found is None or found.end <= ts:
                return
            self.conn.execute(s.delete().where(*lane, s.c.start == found.start))
            inside = [found.start, found.end]
        parts = ([inside[0], ts], [ts, inside[1]])
        pending.extend(part for part in parts if part[1] - part[0] >= SILENCE_FLOOR)

    def write(self) -> None:
        fold.insert(
            self.conn,
            component_silences,
            [
                {"type": t, "cid": c, "start": start, "end": end}
                for (t, c), gaps in self.new.items()
                for start, end in gaps
            ],
        )


def find(
    conn: sa.Connection,
    lanes: dict[Key, float | None],
    since: float,
    until: float,
    now: float,
    offline_after: float,
) -> dict[Key, list[Gap]]:
    """For components ``{(type, id): last_ping}``: their silences longer than ``offline_after``
    overlapping ``[since, until]``, oldest first; one still going on at ``now`` has no end."""
    s = component_silences
    out: dict[Key, list[Gap]] = {key: [] for key in lanes}
    for part in chunks(sorted(lanes)):
        query = (
            sa.select(s.c.type, s.c.cid, s.c.start, s.c.end)
            .where(sa.tuple_(s.c.type, s.c.cid).in_(part), s.c.end >= since, s.c.start <= until)
            .where(s.c.end - s.c.start > offline_after)
            .order_by(s.c.type, s.c.cid, s.c.start)
        )
        for row in conn.execute(query):
            out[(row.type, row.cid)].append((row.start, row.end))
    for key, last_ping in lanes.items():
        if last_ping is not None and now - last_ping > offline_after and last_ping <= until:
            out[key].append((last_ping, None))
    return out


def cut(
    spans: Sequence[tuple[str, float, float | None]], gaps: Sequence[tuple[float, float | None]]
) -> list[tuple[str, float, float | None]]:
    """State spans with the silences ``gaps`` cut out of them and drawn as :data:`NO_SIGNAL`.

    Both are sorted by start; an end of ``None`` is open (up to now), and gaps never overlap.
    Silence starts at a ping, so a span a silence starts with is kept as an instant.
    """
    if not gaps:
        return list(spans)
    inf = float("inf")
    out: list[tuple[str, float, float | None]] = []
    for state, start, end in spans:
        stop = inf if end is None else end
        at = start
        before = len(out)
        for gap_start, gap_end in gaps:
            gap_stop = inf if gap_end is None else gap_end
            if gap_stop <= at or gap_start >= stop:
                continue
            if gap_start > at:
                out.append((state, at, gap_start))
            at = gap_stop
            if at >= stop:
                break
        if at < stop:
            out.append((state, at, end))
        elif len(out) == before:
            # A state reported by the last ping before a silence: kept as an instant, so the
            # timeline still tells what the component said before it went quiet.
            out.append((state, start, start))
    out.extend((NO_SIGNAL, start, end) for start, end in gaps)
    out.sort(key=lambda span: span[1])
    return out
