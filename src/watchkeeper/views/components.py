"""Components: every agent, producer, lift... with its current state, state spans and pings.

Fed by state switches (``component.state``, which seed-000 agent pings become), by incidents
(which prove the agent alive), by task results (tasks processed per agent) and by the deletion
of a Lamia task (whose jobs' results no longer count).

A component that stops pinging is not in its last state for the whole silence: every silence
between two pings of at least :data:`SILENCE_FLOOR` seconds is recorded, and the timeline
draws those longer than ``offline_after`` (a setting, so it is applied when reading) as
:data:`NO_SIGNAL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.lamia import TASK_DELETED, group_of
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import chunks, dumps, loads
from watchkeeper.views.tasks import ABORTED, FAILED, FINISHED, TERMINAL

#: What the timeline draws where a component sent nothing for longer than ``offline_after``.
NO_SIGNAL = "no signal"
#: Silences shorter than this are not recorded (an ``offline_after`` below it draws only the
#: silences at least this long). A constant, not a setting: a rebuild must record the same.
SILENCE_FLOOR = 30.0

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

#: Silences between two pings of a component, at least :data:`SILENCE_FLOOR` long.
component_silences = sa.Table(
    "component_silences",
    metadata,
    sa.Column("type", sa.String(100), primary_key=True),
    sa.Column("cid", sa.String(200), primary_key=True),
    sa.Column("start", Time, primary_key=True),
    sa.Column("end", Time, nullable=False),
)

#: An agent's results from the jobs of one Lamia task, so deleting the task takes them back.
component_group_results = sa.Table(
    "component_group_results",
    metadata,
    sa.Column("agent", sa.String(200), primary_key=True),
    sa.Column("grp", sa.String(100), primary_key=True),
    sa.Column("finished", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("aborted", sa.Integer, nullable=False),
    sa.Index("ix_component_group_results_grp", "grp"),
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
    "tasks_failed",
    "last_ping",
)
#: Where the counters start in a row of :data:`_COLUMNS` (finished, aborted, incidents, failed).
_COUNTS = 9
_SPAN_COLUMNS = ("seq", "type", "cid", "state", "start", "end")
#: How counts from task results and incidents fold into a stored component row.
_COUNT_FOLD = {
    "first_seen": bulk.keep_min("first_seen"),
    "last_seen": bulk.keep_max("last_seen"),
    "tasks_finished": bulk.add("tasks_finished"),
    "tasks_aborted": bulk.add("tasks_aborted"),
    "incidents": bulk.add("incidents"),
    "tasks_failed": bulk.add("tasks_failed"),
}
_GROUP_COLUMNS = ("agent", "grp", "finished", "failed", "aborted")
_GROUP_FOLD = {name: bulk.add(name) for name in ("finished", "failed", "aborted")}


class ComponentsView:
    name = "components"
    kinds = frozenset({"component.state", "incident", "task.status", TASK_DELETED})
    tables = (components, component_spans, component_silences, component_group_results)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        # Deletes of Lamia tasks are rare: fold the events between two of them, then delete.
        segment: list[Event] = []
        for event in events:
            if event.kind == TASK_DELETED:
                self._fold(conn, segment)
                segment = []
                _forget_group(conn, event.attrs["task"])
            else:
                segment.append(event)
        self._fold(conn, segment)

    def _fold(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        keyed = [(key, event) for event in events for key in _component_keys(event)]
        if not keyed:
            return
        _apply_group_results(conn, keyed)
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
                    0,
                    None,
                ]
            row[4] = min(row[4], event.ts)
            row[5] = max(row[5], event.ts)
            _count(row, _COUNTS, event, key[0])
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
        silences = _Silences(conn)
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
                    "tasks_failed": 0,
                    "last_ping": None,
                }
                new_keys.add(key)
            row["last_seen"] = max(row["last_seen"], event.ts)
            row["first_seen"] = min(row["first_seen"], event.ts)
            if event.kind == "component.state":
                silences.ping(row, event.ts)
                self._switch(row, event, spans, closes)
            else:
                names = ("tasks_finished", "tasks_aborted", "incidents", "tasks_failed")
                counts = [row[name] for name in names]
                _count(counts, 0, event, key[0])
                row.update(zip(names, counts, strict=True))
        silences.write()
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
    """Add one task result or incident to the counters starting at ``row[at]`` (finished,
    aborted, incidents, failed).

    Only an agent's own results count; a producer is just seen alive by its tasks.
    """
    if ctype == "producer" and event.kind == "task.status":
        return
    if event.kind == "incident":
        row[at + 2] += 1
    else:
        offset = _RESULT.get(event.attrs["status"])
        if offset is not None:
            row[at + offset] += 1


#: Where a terminal status is counted, from the first counter.
_RESULT = {
    **dict.fromkeys(FINISHED, 0),
    **dict.fromkeys(ABORTED, 1),
    **dict.fromkeys(FAILED, 3),
}
#: The same, named as in :data:`component_group_results`.
_GROUP_RESULT = {
    **dict.fromkeys(FINISHED, "finished"),
    **dict.fromkeys(ABORTED, "aborted"),
    **dict.fromkeys(FAILED, "failed"),
}


def _apply_group_results(conn: sa.Connection, keyed: list[tuple[tuple[str, str], Event]]) -> None:
    """Remember each agent's results from the jobs of each Lamia task (see :func:`_count`)."""
    rows: dict[tuple[str, str], list[Any]] = {}
    for (ctype, cid), event in keyed:
        if ctype != "agent" or event.kind != "task.status":
            continue
        group = group_of(event.attrs["task"], event.attrs.get("producer"))
        result = _GROUP_RESULT.get(event.attrs["status"])
        if group is None or result is None:
            continue
        row = rows.setdefault((cid, group), [cid, group, 0, 0, 0])
        row[2 + ("finished", "failed", "aborted").index(result)] += 1
    if rows:
        bulk.upsert(
            conn,
            component_group_results,
            _GROUP_COLUMNS,
            ("agent", "grp"),
            _GROUP_FOLD,
            [tuple(r) for r in rows.values()],
        )


def _forget_group(conn: sa.Connection, group: str) -> None:
    """A Lamia task was deleted: its jobs' results leave their agents' counts, and an agent,
    or the task as a producer, known only through those jobs leaves the components."""
    c, g = components, component_group_results
    rows = conn.execute(sa.select(g).where(g.c.grp == group)).all()
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
    conn.execute(g.delete().where(g.c.grp == group))
    empty = sa.and_(
        c.c.state.is_(None),
        c.c.incidents == 0,
        c.c.tasks_finished == 0,
        c.c.tasks_failed == 0,
        c.c.tasks_aborted == 0,
    )
    agents = [row.agent for row in rows]
    for part in chunks(agents):
        conn.execute(c.delete().where(c.c.type == "agent", c.c.id.in_(part), empty))
    conn.execute(c.delete().where(c.c.type == "producer", c.c.id == group, c.c.state.is_(None)))


class _Silences:
    """Records the silences between a component's pings while a batch is folded.

    A ping later than the last one closes a silence; a late ping (older than the last one)
    that falls inside a recorded silence splits it, so the log replays into the same
    silences whatever order its pings arrived in.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.new: dict[tuple[str, str], list[list[float]]] = {}

    def ping(self, row: dict[str, Any], ts: float) -> None:
        last = row["last_ping"]
        key = (row["type"], row["id"])
        if last is None or ts > last:
            if last is not None and ts - last >= SILENCE_FLOOR:
                self.new.setdefault(key, []).append([last, ts])
            row["last_ping"] = ts
        elif ts < last:
            self._split(key, ts)

    def _split(self, key: tuple[str, str], ts: float) -> None:
        pending = self.new.setdefault(key, [])
        inside = next((gap for gap in pending if gap[0] < ts < gap[1]), None)
        if inside is not None:
            pending.remove(inside)
        else:
            s = component_silences
            lane = (s.c.type == key[0], s.c.cid == key[1])
            found = self.conn.execute(
                sa.select(s.c.start, s.c.end).where(*lane, s.c.start < ts, s.c.end > ts)
            ).first()
            if found is None:
                return
            self.conn.execute(s.delete().where(*lane, s.c.start == found.start))
            inside = [found.start, found.end]
        parts = ([inside[0], ts], [ts, inside[1]])
        pending.extend(part for part in parts if part[1] - part[0] >= SILENCE_FLOOR)

    def write(self) -> None:
        rows = [(t, c, start, end) for (t, c), gaps in self.new.items() for start, end in gaps]
        bulk.insert(self.conn, component_silences, ("type", "cid", "start", "end"), rows)


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
    spans = conn.execute(
        sa.select(s.c.state, s.c.start, s.c.end)
        .where(s.c.type == ctype, s.c.cid == cid)
        .order_by(s.c.start.desc())
        .limit(history_limit)
    ).all()
    spans = [tuple(sp) for sp in reversed(spans)]
    if spans:
        key = (ctype, cid)
        gaps = silences(conn, {key: row.last_ping}, spans[0][1], now, now, offline_after)
        spans = cut(spans, gaps[key])
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


def silences(
    conn: sa.Connection,
    lanes: dict[tuple[str, str], float | None],
    since: float,
    until: float,
    now: float,
    offline_after: float,
) -> dict[tuple[str, str], list[tuple[float, float | None]]]:
    """For components ``{(type, id): last_ping}``: their silences longer than ``offline_after``
    overlapping ``[since, until]``, oldest first; one still going on at ``now`` has no end."""
    s = component_silences
    out: dict[tuple[str, str], list[tuple[float, float | None]]] = {key: [] for key in lanes}
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
        gaps = silences(conn, keys, since, until, at, offline_after)
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
            spans = [sp for sp in cut(spans, gaps[(ctype, cid)]) if sp[2] is None or sp[2] >= since]
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
