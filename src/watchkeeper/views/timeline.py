"""The state timeline of component instances (chart 4): state spans per lane, with the
silences longer than ``offline_after`` drawn as "no signal", and short spans merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.timefmt import iso
from watchkeeper.views import silences
from watchkeeper.views.components import component_spans, components


def component_status(
    conn: sa.Connection,
    since: float,
    until: float,
    *,
    type: str | None = None,
    lanes: int = 50,
    offset: int = 0,
    resolution: float = 0.0,
    limit: int = 10_000,
    now: float | None = None,
    offline_after: float | None = None,
) -> list[dict[str, Any]]:
    """State spans ``{component, type, state, start, end}`` overlapping ``[since, until]``.

    Lanes are component instances ordered by type and id, ``lanes`` at a time from ``offset``
    (:func:`lanes_total` counts them). With ``offline_after``, a silence of an instance longer
    than that is a span of state :data:`NO_SIGNAL` (open while it lasts at ``now``), cut out
    of the state it was in. With a ``resolution`` in seconds, runs of spans shorter
    than it are merged into one span of the state that held longest in the run, with
    ``merged`` = how many spans it stands for: a day of 30-second pings then draws as a few
    hundred bars, not thousands. At most ``limit`` spans are returned.
    """
    c = components
    page = (
        sa.select(c.c.type, c.c.id, c.c.last_ping)
        .where(*_lane_filter(until, type))
        .order_by(c.c.type, c.c.id)
        .limit(lanes)
        .offset(offset)
    )
    keys = {(row.type, row.id): row.last_ping for row in conn.execute(page)}
    gaps: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
    if offline_after is not None and keys:
        at = until if now is None else now
        gaps = silences.find(conn, keys, since, until, at, offline_after)
    s = component_spans
    out: list[dict[str, Any]] = []
    for ctype, cid in keys:
        lane = (s.c.type == ctype, s.c.cid == cid, s.c.start <= until)
        # Two halves rather than ``end IS NULL OR end >= since``, so that each is a range of
        # the (type, cid, end, ...) index: a recent window reads only its own spans.
        both = sa.union_all(
            sa.select(s.c.state, s.c.start, s.c.end, s.c.seq).where(*lane, s.c.end >= since),
            sa.select(s.c.state, s.c.start, s.c.end, s.c.seq).where(*lane, s.c.end.is_(None)),
        ).subquery()
        query = sa.select(both.c.state, both.c.start, both.c.end).order_by(both.c.start, both.c.seq)
        spans = [tuple(r) for r in conn.execute(query)]
        if gaps.get((ctype, cid)):
            cut = silences.cut(spans, gaps[(ctype, cid)])
            spans = [sp for sp in cut if sp[2] is None or sp[2] >= since]
        for state, start, end, merged in coalesce(spans, resolution, until):
            row = {
                "component": cid,
                "type": ctype,
                "state": state,
                "start": iso(start),
                "end": iso(end),
            }
            if merged > 1:
                row["merged"] = merged
            out.append(row)
            if len(out) >= limit:
                return out
    return out


def lanes_total(conn: sa.Connection, until: float, *, type: str | None = None) -> int:
    """How many instances have a state timeline up to ``until`` (the lanes of chart 4)."""
    query = sa.select(sa.func.count()).select_from(components).where(*_lane_filter(until, type))
    return conn.execute(query).scalar_one()


def _lane_filter(until: float, type: str | None) -> list[sa.ColumnElement[bool]]:
    # An instance with a state has an open span from state_since on, so it has a lane in every
    # window after its first span; one that never switched state has no lane at all.
    where = [components.c.state.is_not(None), components.c.first_seen <= until]
    if type is not None:
        where.append(components.c.type == type)
    return where


def coalesce(
    spans: Sequence[tuple[str, float, float | None]], resolution: float, until: float
) -> list[tuple[str, float, float | None, int]]:
    """Merge runs of spans shorter than ``resolution`` (see :func:`component_status`).

    Each result is ``(state, start, end, merged)``; spans at least ``resolution`` long, and
    every span when ``resolution`` is 0, come through unchanged with ``merged`` = 1.
    """
    out: list[tuple[str, float, float | None, int]] = []
    run: list[tuple[str, float, float | None]] = []

    def emit(state: str, start: float, end: float | None, merged: int) -> None:
        if out and merged > 1 and out[-1][0] == state and out[-1][3] > 1:
            # Two merged runs of the same main state side by side read as one.
            out[-1] = (state, out[-1][1], end, out[-1][3] + merged)
        else:
            out.append((state, start, end, merged))

    def flush() -> None:
        if not run:
            return
        if len(run) == 1:
            emit(*run[0], 1)
        else:
            held: dict[str, float] = {}
            for state, start, end in run:
                held[state] = held.get(state, 0.0) + ((end if end is not None else until) - start)
            main = max(held, key=lambda k: held[k])
            emit(main, run[0][1], run[-1][2], len(run))
        run.clear()

    for span in spans:
        state, start, end = span
        length = (end if end is not None else until) - start
        if resolution <= 0 or length >= resolution:
            flush()
            emit(state, start, end, 1)
            continue
        run.append(span)
        if (end if end is not None else until) - run[0][1] >= resolution:
            flush()
    flush()
    return out
