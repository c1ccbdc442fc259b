"""How long the tasks that ended recently waited and ran, per agent: the distributions
``/metrics`` exposes. Read from the tasks view's tables at each scrape, bounded to the most
recent :data:`MOST` tasks."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.events.kinds import TERMINAL
from watchkeeper.views.base import chunks
from watchkeeper.views.tasks import durations, task_history, tasks

#: Tasks read per scrape at most (the latest to end).
MOST = 5000


def ended_since(conn: sa.Connection, since: float) -> list[tuple[str | None, float, float]]:
    """``(agent, queued_s, running_s)`` of each task that ended since ``since``."""
    t = tasks.c
    ended = conn.execute(
        sa.select(t.id, t.agent)
        .where(t.status.in_(sorted(TERMINAL)), t.updated_at >= since)
        .order_by(t.updated_at.desc())
        .limit(MOST)
    ).all()
    agents = {row.id: row.agent for row in ended}
    points: dict[str, list[tuple[str, float]]] = {task: [] for task in agents}
    h = task_history.c
    for part in chunks(list(agents)):
        rows = conn.execute(
            sa.select(h.task_id, h.status, h.ts)
            .where(h.task_id.in_(part))
            .order_by(h.task_id, h.ts, h.seq)
        )
        for task_id, status, ts in rows:
            points[task_id].append((status, ts))
    return [(agents[task], *durations(found)) for task, found in points.items()]
