"""Agents' results from the jobs of each Lamia task, kept so that deleting the task can take
them back from the agents' counts (the components view's part of a Lamia delete)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from watchkeeper.events.kinds import ABORTED, FAILED, FINISHED
from watchkeeper.store import bulk
from watchkeeper.store.tables import metadata

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

RESULTS = ("finished", "failed", "aborted")
#: The result a terminal status counts as.
_RESULT = {
    **dict.fromkeys(FINISHED, "finished"),
    **dict.fromkeys(FAILED, "failed"),
    **dict.fromkeys(ABORTED, "aborted"),
}
_COLUMNS = ("agent", "grp", *RESULTS)
_FOLD = {name: bulk.add(name) for name in RESULTS}


def record(conn: sa.Connection, results: list[tuple[str, str, str]]) -> None:
    """Add ``(agent, group, status)`` results; statuses that end nothing are ignored."""
    rows: dict[tuple[str, str], list[Any]] = {}
    for agent, group, status in results:
        result = _RESULT.get(status)
        if result is not None:
            row = rows.setdefault((agent, group), [agent, group, 0, 0, 0])
            row[2 + RESULTS.index(result)] += 1
    if rows:
        bulk.upsert(
            conn,
            component_group_results,
            _COLUMNS,
            ("agent", "grp"),
            _FOLD,
            [tuple(r) for r in rows.values()],
        )


def take(conn: sa.Connection, group: str) -> list[Any]:
    """The results of ``group``'s jobs per agent (``agent``, ``finished``, ``failed``,
    ``aborted``), forgotten here."""
    g = component_group_results
    rows = conn.execute(sa.select(g).where(g.c.grp == group)).all()
    conn.execute(g.delete().where(g.c.grp == group))
    return list(rows)
