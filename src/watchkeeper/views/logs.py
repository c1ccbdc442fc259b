"""Log records: the messages node agents forward (``log.record``), searchable, and kept for as
long as their severity deserves.

A record's ``level`` is the message level of the output protocol (1 stdout, 2 stderr, 7
warning, 8 error, 9 critical, 20-30 results...); its ``severity`` is the event level it
arrived with, which is what retention goes by: chatter expires sooner than errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.kinds import LOG_RECORD
from watchkeeper.events.model import LEVELS
from watchkeeper.events.timefmt import iso
from watchkeeper.store import bulk
from watchkeeper.store.tables import BigKey, Time, metadata

log_records = sa.Table(
    "log_records",
    metadata,
    sa.Column("seq", BigKey, primary_key=True, autoincrement=False),
    sa.Column("agent", sa.String(200), nullable=False),
    sa.Column("job", sa.String(200)),
    sa.Column("domain", sa.String(200)),
    sa.Column("name", sa.String(200)),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("epoch", Time, nullable=False),
    sa.Column("rid", sa.BigInteger),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Index("ix_log_records_epoch", "epoch", "seq"),
    sa.Index("ix_log_records_agent_epoch", "agent", "epoch"),
    sa.Index("ix_log_records_job_epoch", "job", "epoch"),
    sa.Index("ix_log_records_severity_epoch", "severity", "epoch"),
)

_COLUMNS = (
    "seq", "agent", "job", "domain", "name", "level", "severity", "epoch", "rid", "data", "error"
)  # fmt: skip


class LogsView:
    name = "logs"
    kinds = frozenset({LOG_RECORD})
    tables = (log_records,)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        rows = []
        for event in events:
            a = event.attrs
            rows.append(
                (event.seq, a["agent"], a["job"], a["domain"], a["name"], a["log_level"],
                 event.level, a["epoch"], a["id"], a["data"], a["error"])
            )  # fmt: skip
        bulk.insert(conn, log_records, _COLUMNS, rows)


VIEW = LogsView()


# --- retention -----------------------------------------------------------------------------


def prune(conn: sa.Connection, keep: Mapping[str, float], now: float, limit: int = 5000) -> int:
    """Delete at most ``limit`` records older than their severity's ``keep`` seconds (read at
    ``now``); how many went. A severity missing from ``keep`` is kept for ever."""
    t = log_records
    deleted = 0
    for severity, seconds in keep.items():
        left = limit - deleted
        if left <= 0:
            break
        old = (
            sa.select(t.c.seq)
            .where(t.c.severity == severity, t.c.epoch < now - seconds)
            .limit(left)
            .scalar_subquery()
        )
        deleted += conn.execute(sa.delete(t).where(t.c.seq.in_(old))).rowcount or 0
    return deleted


# --- queries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogFilter:
    agent: str | None = None
    job: str | None = None
    #: Message levels to show (``None``: all).
    levels: frozenset[int] | None = None
    #: The lowest severity to show (``None``: all).
    severity: str | None = None
    since: float | None = None
    until: float | None = None
    search: str | None = None


def record_dict(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "agent": row.agent,
        "job": row.job,
        "domain": row.domain,
        "name": row.name,
        "level": row.level,
        "severity": row.severity,
        "epoch": row.epoch,
        "time": iso(row.epoch),
        "id": row.rid,
        "data": row.data,
        "error": row.error,
    }


def list_logs(
    conn: sa.Connection,
    f: LogFilter,
    *,
    limit: int = 100,
    after: tuple[Any, ...] | None = None,
) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
    """One page of records, newest first (by the time each was read, then arrival), and the
    keyset cursor of the next page (``None`` on the last)."""
    t = log_records
    where: list[sa.ColumnElement[bool]] = []
    if f.agent is not None:
        where.append(t.c.agent == f.agent)
    if f.job is not None:
        where.append(t.c.job == f.job)
    if f.levels is not None:
        where.append(t.c.level.in_(sorted(f.levels)))
    if f.severity is not None:
        where.append(t.c.severity.in_(LEVELS[LEVELS.index(f.severity) :]))
    if f.since is not None:
        where.append(t.c.epoch >= f.since)
    if f.until is not None:
        where.append(t.c.epoch <= f.until)
    if f.search:
        where.append(t.c.data.contains(f.search, autoescape=True))
    if after is not None:
        # The cursor's seq travels as text, like every cursor's second half.
        epoch, seq = float(after[0]), int(after[1])
        where.append(sa.or_(t.c.epoch < epoch, sa.and_(t.c.epoch == epoch, t.c.seq < seq)))
    query = sa.select(t).where(*where).order_by(t.c.epoch.desc(), t.c.seq.desc()).limit(limit + 1)
    rows = conn.execute(query).all()
    page = [record_dict(r) for r in rows[:limit]]
    cursor = (page[-1]["epoch"], str(page[-1]["seq"])) if len(rows) > limit else None
    return page, cursor
