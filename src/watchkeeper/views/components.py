"""Components: every agent, producer, lift... with its current state, state spans and pings.

Fed by state switches (``component.state``, which seed-000 agent pings become), by incidents
(which prove the agent alive) and by task results (tasks processed per agent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import dumps, loads
from watchkeeper.views.tasks import ABORTED, FINISHED, TERMINAL

components = sa.Table(
    "components",
    metadata,
    sa.Column("type", sa.String(100), primary_key=True),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(64)),
    sa.Column("state_since", Time),
    sa.Column("first_seen", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("loc", sa.String(500)),
    sa.Column("pings", sa.Text, nullable=False),
    sa.Column("tasks_finished", sa.Integer, nullable=False),
    sa.Column("tasks_aborted", sa.Integer, nullable=False),
    sa.Column("incidents", sa.Integer, nullable=False),
    sa.Index("ix_components_last_seen", "last_seen"),
)

component_spans = sa.Table(
    "component_spans",
    metadata,
    sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("cid", sa.String(200), nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("start", Time, nullable=False),
    sa.Column("end", Time),
    sa.Index("ix_component_spans_component", "type", "cid", "start"),
    sa.Index("ix_component_spans_start", "start"),
    sa.Index("ix_component_spans_lane_end", "type", "cid", "end", "start", "state"),
)


_COLUMNS = (
    "type",
    "id",
    "state",
    "state_since",
    "first_seen",
    "last_seen",
    "message",
    "loc",
    "pings",
    "tasks_finished",
    "tasks_aborted",
    "incidents",
)
_SPAN_COLUMNS = ("seq", "type", "cid", "state", "start", "end")
#: How counts from task results and incidents fold into a stored component row.
_COUNT_FOLD = {
    "first_seen": bulk.keep_min("first_seen"),
    "last_seen": bulk.keep_max("last_seen"),
    "tasks_finished": bulk.add("tasks_finished"),
    "tasks_aborted": bulk.add("tasks_aborted"),
    "incidents": bulk.add("incidents"),
}


class ComponentsView:
    name = "components"
    kinds = frozenset({"component.state", "incident", "task.status"})
    tables = (components, component_spans)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        keyed = [(key, event) for event in events for key in _component_keys(event)]
        if not keyed:
            return
        switching = {key for key, event in keyed if event.kind == "component.state"}
        self._apply_counts(conn, [(k, e) for k, e in keyed if k not in switching])
        if switching:
            self._apply_states(conn, [(k, e) for k, e in keyed if k in switching], switching)

    @staticmethod
    def _apply_counts(conn: sa.Connection, keyed: list[tuple[tuple[str, str], Event]]) -> None:
        """Components that only gained counts: folded in with one upsert, nothing read."""
        rows: dict[tuple[str, str], list[Any]] = {}
        for key, event in keyed:
            row = rows.get(key)
            if row is None:
                row = rows[key] = [
                    key[0],
                    key[1],
                    None,
                    None,
                    event.ts,
                    event.ts,
                    None,
                    None,
                    "{}",
                    0,
                    0,
                    0,
                ]
            row[4] = min(row[4], event.ts)
            row[5] = max(row[5], event.ts)
            _count(row, 9, event, key[0])
        bulk.upsert(
            conn,
            components,
            _COLUMNS,
            ("type", "id"),
            _COUNT_FOLD,
            [tuple(r) for r in rows.values()],
        )

    def _apply_states(
        self,
        conn: sa.Connection,
        keyed: list[tuple[tuple[str, str], Event]],
        keys: set[tuple[str, str]],
    ) -> None:
        """Components that switched state: read, replay in seq order, write back with spans."""
        current = self._load(conn, keys)
        new_keys: set[tuple[str, str]] = set()
        spans: dict[int, dict[str, Any]] = {}
        closes: list[tuple[float, int]] = []
        for key, event in keyed:
            row = current.get(key)
            if row is None:
                row = current[key] = {
                    "type": key[0],
                    "id": key[1],
                    "state": None,
                    "state_since": None,
                    "first_seen": event.ts,
                    "last_seen": event.ts,
                    "message": None,
                    "loc": None,
                    "pings": {},
                    "tasks_finished": 0,
                    "tasks_aborted": 0,
                    "incidents": 0,
                }
                new_keys.add(key)
            row["last_seen"] = max(row["last_seen"], event.ts)
            row["first_seen"] = min(row["first_seen"], event.ts)
            if event.kind == "component.state":
                self._switch(row, event, spans, closes)
            else:
                counts = [row["tasks_finished"], row["tasks_aborted"], row["incidents"]]
                _count(counts, 0, event, key[0])
                row["tasks_finished"], row["tasks_aborted"], row["incidents"] = counts
        bulk.update(conn, component_spans, ("end",), ("seq",), closes)
        bulk.insert(
            conn,
            component_spans,
            _SPAN_COLUMNS,
            [tuple(span[c] for c in _SPAN_COLUMNS) for span in spans.values()],
        )
        inserts, updates = [], []
        for key, row in current.items():
            values = tuple(dumps(row[c]) if c == "pings" else row[c] for c in _COLUMNS)
            if key in new_keys:
                inserts.append(values)
            else:
                updates.append(values[2:] + values[:2])
        bulk.insert(conn, components, _COLUMNS, inserts)
        bulk.update(conn, components, _COLUMNS[2:], ("type", "id"), updates)

    @staticmethod
    def _switch(
        row: dict[str, Any],
        event: Event,
        spans: dict[int, dict[str, Any]],
        closes: list[tuple[float, int]],
    ) -> None:
        state = event.attrs["state"]
        pings = row["pings"]
        pings[state] = pings.get(state, 0) + 1
        if row["state_since"] is not None and event.ts < row["state_since"]:
            # A late ping from before the current span: counted, but it cannot rewrite history.
            return
        row["message"] = event.attrs.get("message")
        row["loc"] = event.attrs.get("loc")
        if state == row["state"]:
            return
        open_span = row.get("_open_seq")
        if open_span is not None:
            pending = spans.get(open_span)
            if pending is not None:
                pending["end"] = event.ts
            else:
                closes.append((event.ts, open_span))
        spans[event.seq] = {
            "seq": event.seq,
            "type": row["type"],
            "cid": row["id"],
            "state": state,
            "start": event.ts,
            "end": None,
        }
        row["_open_seq"] = event.seq
        row["state"] = state
        row["state_since"] = event.ts

    @staticmethod
    def _load(conn: sa.Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        key_list = sorted(keys)
        s = component_spans
        for start in range(0, len(key_list), 250):
            part = key_list[start : start + 250]
            rows = conn.execute(
                sa.select(components).where(sa.tuple_(components.c.type, components.c.id).in_(part))
            )
            for row in rows:
                data = row._asdict()
                data["pings"] = loads(data["pings"]) or {}
                out[(row.type, row.id)] = data
            open_rows = conn.execute(
                sa.select(s.c.type, s.c.cid, sa.func.max(s.c.seq))
                .where(sa.tuple_(s.c.type, s.c.cid).in_(part), s.c.end.is_(None))
                .group_by(s.c.type, s.c.cid)
            )
            for ctype, cid, seq in open_rows:
                if (ctype, cid) in out:
                    out[(ctype, cid)]["_open_seq"] = seq
        return out


def _count(row: list[Any], at: int, event: Event, ctype: str) -> None:
    """Add one task result or incident to the counters starting at ``row[at]``.

    Only an agent's own results count; a producer is just seen alive by its tasks.
    """
    if ctype == "producer" and event.kind == "task.status":
        return
    if event.kind == "incident":
        row[at + 2] += 1
    elif event.attrs["status"] in FINISHED:
        row[at] += 1
    elif event.attrs["status"] in ABORTED:
        row[at + 1] += 1


def _component_keys(event: Event) -> list[tuple[str, str]]:
    """The components an event tells about: its agent, and the producer of a task."""
    attrs = event.attrs
    if event.kind == "component.state":
        return [(attrs["type"], attrs["id"])]
    if event.kind == "incident":
        return [("agent", attrs["agent"])]
    keys = []
    if attrs.get("producer") is not None:
        keys.append(("producer", attrs["producer"]))
    if attrs.get("agent") is not None and attrs["status"] in TERMINAL:
        keys.append(("agent", attrs["agent"]))
    return keys


VIEW = ComponentsView()


# --- queries -------------------------------------------------------------------------------


def liveness(last_seen: float, now: float, stale_after: float, offline_after: float) -> str:
    silence = now - last_seen
    if silence < stale_after:
        return "online"
    if silence < offline_after:
        return "stale"
    return "offline"


def _summary(row: Any, now: float, stale_after: float, offline_after: float) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "state": row.state,
        "state_since": iso(row.state_since),
        "last_seen": iso(row.last_seen),
        "liveness": liveness(row.last_seen, now, stale_after, offline_after),
        "message": row.message,
        "location": row.loc,
        "pings": loads(row.pings) or {},
        "tasks_processed": row.tasks_finished + row.tasks_aborted,
        "tasks_finished": row.tasks_finished,
        "tasks_aborted": row.tasks_aborted,
        "incidents": row.incidents,
    }


def list_components(
    conn: sa.Connection,
    *,
    now: float,
    stale_after: float,
    offline_after: float,
    type: str | None = None,
    state: str | None = None,
    liveness_is: str | None = None,
) -> list[dict[str, Any]]:
    query = sa.select(components)
    if type is not None:
        query = query.where(components.c.type == type)
    if state is not None:
        query = query.where(components.c.state == state)
    rows = conn.execute(query.order_by(components.c.type, components.c.id))
    out = [_summary(row, now, stale_after, offline_after) for row in rows]
    if liveness_is is not None:
        out = [c for c in out if c["liveness"] == liveness_is]
    return out


def get_component(
    conn: sa.Connection,
    ctype: str,
    cid: str,
    *,
    now: float,
    stale_after: float,
    offline_after: float,
    history_limit: int = 1000,
) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(components).where(components.c.type == ctype, components.c.id == cid)
    ).first()
    if row is None:
        return None
    s = component_spans
    spans = conn.execute(
        sa.select(s.c.state, s.c.start, s.c.end)
        .where(s.c.type == ctype, s.c.cid == cid)
        .order_by(s.c.start.desc())
        .limit(history_limit)
    ).all()
    out = _summary(row, now, stale_after, offline_after)
    out["history"] = [
        {"state": sp.state, "start": iso(sp.start), "end": iso(sp.end)} for sp in reversed(spans)
    ]
    return out


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
) -> list[dict[str, Any]]:
    """State spans ``{component, type, state, start, end}`` overlapping ``[since, until]``.

    Lanes are component instances ordered by type and id, ``lanes`` at a time from ``offset``
    (:func:`lanes_total` counts them). With a ``resolution`` in seconds, runs of spans shorter
    than it are merged into one span of the state that held longest in the run, with
    ``merged`` = how many spans it stands for: a day of 30-second pings then draws as a few
    hundred bars, not thousands. At most ``limit`` spans are returned.
    """
    c = components
    page = (
        sa.select(c.c.type, c.c.id)
        .where(*_lane_filter(until, type))
        .order_by(c.c.type, c.c.id)
        .limit(lanes)
        .offset(offset)
    )
    keys = [(row.type, row.id) for row in conn.execute(page)]
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


def liveness_counts(
    conn: sa.Connection, *, now: float, stale_after: float, offline_after: float
) -> dict[str, int]:
    counts = {"online": 0, "stale": 0, "offline": 0}
    for (last_seen,) in conn.execute(sa.select(components.c.last_seen)):
        counts[liveness(last_seen, now, stale_after, offline_after)] += 1
    return counts


def latest_activity(conn: sa.Connection) -> float | None:
    """When a component was last heard from (event time), ``None`` before the first: what the
    state timeline fits its default window to."""
    return conn.execute(sa.select(sa.func.max(components.c.last_seen))).scalar_one()
