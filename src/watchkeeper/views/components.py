"""Components: every agent, producer, lift... with its current state, state spans and pings.

Fed by state switches (``component.state``, which seed-000 agent pings become), by incidents
(which prove the agent alive), by task results (tasks processed per agent) and by the deletion
of a Lamia task (whose jobs' results no longer count).

A component that stops pinging is not in its last state for the whole silence: the silences
between its pings are recorded (:mod:`watchkeeper.views.silences`) and the timeline draws
those longer than ``offline_after`` as "no signal".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.kinds import (
    ABORTED,
    COMPONENT_STATE,
    FAILED,
    FINISHED,
    INCIDENT,
    TASK_STATUS,
    TERMINAL,
)
from watchkeeper.events.lamia import TASK_DELETED, group_of
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.fold import Rows
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.store.view import CHUNK
from watchkeeper.views import group_results, silences
from watchkeeper.views.base import chunks, dumps, loads, runs_between
from watchkeeper.views.silences import NO_SIGNAL, component_silences

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
    sa.Column("tasks_failed", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("last_ping", Time),
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


#: A component's columns before the batch says anything of it.
_FRESH: dict[str, Any] = {
    "state": None,
    "state_since": None,
    "message": None,
    "loc": None,
    "tasks_finished": 0,
    "tasks_aborted": 0,
    "incidents": 0,
    "tasks_failed": 0,
    "last_ping": None,
}
#: How counts from task results and incidents fold into a stored component row.
_COUNT_FOLD = {
    "first_seen": bulk.keep_min("first_seen"),
    "last_seen": bulk.keep_max("last_seen"),
    "tasks_finished": bulk.add("tasks_finished"),
    "tasks_aborted": bulk.add("tasks_aborted"),
    "incidents": bulk.add("incidents"),
    "tasks_failed": bulk.add("tasks_failed"),
}


class ComponentsView:
    name = "components"
    kinds = frozenset({COMPONENT_STATE, INCIDENT, TASK_STATUS, TASK_DELETED})
    tables = (
        components,
        component_spans,
        component_silences,
        group_results.component_group_results,
    )

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        # Deletes of Lamia tasks are rare: fold the events between two of them, then delete.
        for run, deleted in runs_between(events, TASK_DELETED):
            self._fold(conn, run)
            if deleted is not None:
                _forget_group(conn, deleted.attrs["task"])

    def _fold(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        keyed = [(key, event) for event in events for key in _component_keys(event)]
        if not keyed:
            return
        group_results.record(conn, _job_results(keyed))
        switching = {key for key, event in keyed if event.kind == COMPONENT_STATE}
        self._apply_counts(conn, [(k, e) for k, e in keyed if k not in switching])
        if switching:
            self._apply_states(conn, [(k, e) for k, e in keyed if k in switching], switching)

    @staticmethod
    def _apply_counts(conn: sa.Connection, keyed: list[tuple[tuple[str, str], Event]]) -> None:
        """Components that only gained counts: folded in with one upsert, nothing read."""
        rows = Rows(conn, components, ("type", "id"))
        for key, event in keyed:
            row = rows.get(key)
            if row is None:
                # Pings are not folded (see _COUNT_FOLD): the text only fills a new row.
                row = rows.add(key, _fresh(event.ts, pings="{}"))
            row["first_seen"] = min(row["first_seen"], event.ts)
            row["last_seen"] = max(row["last_seen"], event.ts)
            _count(row, event, key[0])
        rows.upsert(_COUNT_FOLD)

    def _apply_states(
        self,
        conn: sa.Connection,
        keyed: list[tuple[tuple[str, str], Event]],
        keys: set[tuple[str, str]],
    ) -> None:
        """Components that switched state: read, replay in seq order, write back with spans."""
        current = _load(conn, keys)
        spans = Rows(conn, component_spans, ("seq",))
        closes: list[tuple[float, int]] = []
        recorder = silences.Recorder(conn)
        for key, event in keyed:
            row = current.edit(key) or current.add(key, _fresh(event.ts, pings={}))
            row["last_seen"] = max(row["last_seen"], event.ts)
            row["first_seen"] = min(row["first_seen"], event.ts)
            if event.kind == COMPONENT_STATE:
                recorder.ping(row, event.ts)
                self._switch(row, event, spans, closes)
            else:
                _count(row, event, key[0])
        recorder.write()
        bulk.update(conn, component_spans, ("end",), ("seq",), closes)
        spans.write()
        current.write()

    @staticmethod
    def _switch(
        row: dict[str, Any],
        event: Event,
        spans: Rows,
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
            pending = spans.edit(open_span)
            if pending is not None:
                pending["end"] = event.ts
            else:
                closes.append((event.ts, open_span))
        assert event.seq is not None  # the writer numbered it before any view sees it
        spans.add(
            event.seq,
            {"type": row["type"], "cid": row["id"], "state": state, "start": event.ts, "end": None},
        )
        row["_open_seq"] = event.seq
        row["state"] = state
        row["state_since"] = event.ts


def _fresh(ts: float, **values: Any) -> dict[str, Any]:
    return {**_FRESH, "first_seen": ts, "last_seen": ts, **values}


_PINGS_OUT = {"pings": dumps}


def _load(conn: sa.Connection, keys: set[tuple[str, str]]) -> Rows:
    """The rows of ``keys``, each with the ``seq`` of its open span as ``_open_seq``."""
    rows = Rows(conn, components, ("type", "id"), decode=_PINGS_IN, encode=_PINGS_OUT)
    rows.load(keys)
    key_list = sorted(keys)
    s = component_spans
    for part in chunks(key_list, CHUNK // 2):
        open_rows = conn.execute(
            sa.select(s.c.type, s.c.cid, sa.func.max(s.c.seq))
            .where(sa.tuple_(s.c.type, s.c.cid).in_(part), s.c.end.is_(None))
            .group_by(s.c.type, s.c.cid)
        )
        for ctype, cid, seq in open_rows:
            row = rows.get((ctype, cid))
            if row is not None:
                row["_open_seq"] = seq
    return rows


_PINGS_IN = {"pings": lambda text: loads(text) or {}}


def _count(row: dict[str, Any], event: Event, ctype: str) -> None:
    """Add one task result or incident to the component's counters.

    Only an agent's own results count; a producer is just seen alive by its tasks.
    """
    if ctype == "producer" and event.kind == TASK_STATUS:
        return
    if event.kind == INCIDENT:
        row["incidents"] += 1
    else:
        counter = _RESULT.get(event.attrs["status"])
        if counter is not None:
            row[counter] += 1


#: The counter a terminal status adds to.
_RESULT = {
    **dict.fromkeys(FINISHED, "tasks_finished"),
    **dict.fromkeys(ABORTED, "tasks_aborted"),
    **dict.fromkeys(FAILED, "tasks_failed"),
}


def _job_results(keyed: list[tuple[tuple[str, str], Event]]) -> list[tuple[str, str, str]]:
    """``(agent, Lamia task, status)`` of the results of Lamia jobs among the events."""
    out = []
    for (ctype, cid), event in keyed:
        if ctype == "agent" and event.kind == TASK_STATUS:
            group = group_of(event.attrs["task"], event.attrs.get("producer"))
            if group is not None:
                out.append((cid, group, event.attrs["status"]))
    return out


def _forget_group(conn: sa.Connection, group: str) -> None:
    """A Lamia task was deleted: its jobs' results leave their agents' counts, and an agent,
    or the task as a producer, known only through those jobs leaves the components."""
    c = components
    rows = group_results.take(conn, group)
    for row in rows:
        conn.execute(
            c.update()
            .where(c.c.type == "agent", c.c.id == row.agent)
            .values(
                tasks_finished=c.c.tasks_finished - row.finished,
                tasks_failed=c.c.tasks_failed - row.failed,
                tasks_aborted=c.c.tasks_aborted - row.aborted,
            )
        )
    empty = sa.and_(
        c.c.state.is_(None),
        c.c.incidents == 0,
        c.c.tasks_finished == 0,
        c.c.tasks_failed == 0,
        c.c.tasks_aborted == 0,
    )
    for part in chunks([row.agent for row in rows]):
        conn.execute(c.delete().where(c.c.type == "agent", c.c.id.in_(part), empty))
    conn.execute(c.delete().where(c.c.type == "producer", c.c.id == group, c.c.state.is_(None)))


def _component_keys(event: Event) -> list[tuple[str, str]]:
    """The components an event tells about: its agent, and the producer of a task."""
    attrs = event.attrs
    if event.kind == COMPONENT_STATE:
        return [(attrs["type"], attrs["id"])]
    if event.kind == INCIDENT:
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
        "tasks_processed": row.tasks_finished + row.tasks_failed + row.tasks_aborted,
        "tasks_finished": row.tasks_finished,
        "tasks_failed": row.tasks_failed,
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
    newest_first = conn.execute(
        sa.select(s.c.state, s.c.start, s.c.end)
        .where(s.c.type == ctype, s.c.cid == cid)
        .order_by(s.c.start.desc())
        .limit(history_limit)
    ).all()
    spans: list[tuple[str, float, float | None]] = [
        (state, start, end) for state, start, end in reversed(newest_first)
    ]
    if spans:
        key = (ctype, cid)
        gaps = silences.find(conn, {key: row.last_ping}, spans[0][1], now, now, offline_after)
        spans = silences.cut(spans, gaps[key])
    out = _summary(row, now, stale_after, offline_after)
    # The page is a picture taken now: a silence still going on lasts until now.
    out["history"] = [
        {
            "state": state,
            "start": iso(start),
            "end": iso(now if end is None and state == NO_SIGNAL else end),
        }
        for state, start, end in spans
    ]
    return out


def latest_activity(conn: sa.Connection) -> float | None:
    """When a component was last heard from (event time), ``None`` before the first: what the
    state timeline fits its default window to."""
    latest: float | None = conn.execute(sa.select(sa.func.max(components.c.last_seen))).scalar_one()
    return latest
