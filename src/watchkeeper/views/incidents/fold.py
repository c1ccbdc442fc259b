"""The incidents view: one row per ``incident`` event, with the fingerprint that groups it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.kinds import INCIDENT
from watchkeeper.store import fold
from watchkeeper.store.fold import Row
from watchkeeper.store.tables import BigKey, Time, metadata
from watchkeeper.views.base import dumps

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", BigKey, primary_key=True, autoincrement=False),
    sa.Column("agent", sa.String(200), nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("last_state", sa.String(64)),
    sa.Column("task_id", sa.String(200)),
    sa.Column("subtask", sa.Integer),
    sa.Column("subtasks_left", sa.Integer),
    sa.Column("current_loc", sa.String(500)),
    sa.Column("target_loc", sa.String(500)),
    sa.Column("pings", sa.Text),
    sa.Column("fingerprint", sa.String(16), nullable=False),
    sa.Index("ix_incidents_agent_ts", "agent", "ts"),
    sa.Index("ix_incidents_task", "task_id"),
    sa.Index("ix_incidents_ts", "ts"),
    sa.Index("ix_incidents_fingerprint", "fingerprint"),
)

_MASK = re.compile(r"0x[0-9a-f]+|[0-9a-f]{8,}|\d+(\.\d+)?")
_SPACE = re.compile(r"\s+")


def fingerprint(last_state: str | None, message: str | None) -> str:
    text = _SPACE.sub(" ", _MASK.sub("#", (message or "").lower())).strip()
    return hashlib.sha1(f"{last_state or ''}\x00{text}".encode()).hexdigest()[:16]


class IncidentsView:
    name = "incidents"
    kinds = frozenset({INCIDENT})
    tables = (incidents,)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        fold.insert(conn, incidents, [_row(event) for event in events])


def _row(event: Event) -> Row:
    a = event.attrs
    pings = a.get("pings")
    return {
        "id": event.seq,
        "agent": a["agent"],
        "ts": event.ts,
        "level": event.level,
        "message": a.get("message"),
        "last_state": a.get("last_state"),
        "task_id": a.get("task"),
        "subtask": a.get("subtask"),
        "subtasks_left": a.get("subtasks_left"),
        "current_loc": a.get("current_loc"),
        "target_loc": a.get("target_loc"),
        "pings": dumps(pings) if pings is not None else None,
        "fingerprint": fingerprint(a.get("last_state"), a.get("message")),
    }


VIEW = IncidentsView()
