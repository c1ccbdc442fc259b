"""Tasks: current status, producer, agent, status history, time queued vs running.

History is kept as status *points* (one row per status event); spans are derived from
consecutive points, so out-of-order events simply fall into place.
"""

from __future__ import annotations

from watchkeeper.views.tasks.charts import (
    PROCESSED_SORTS,
    aborted_counts,
    aborted_tasks,
    latest_activity,
    natural_key,
    processed_per_agent,
    producers,
    waterfall,
    waterfall_total,
)
from watchkeeper.views.tasks.fold import VIEW, TasksView, delete_jobs
from watchkeeper.views.tasks.read import (
    SORTABLE,
    TaskFilter,
    abort_points,
    durations,
    get_task,
    list_tasks,
    status_counts,
    task_summary,
)
from watchkeeper.views.tasks.tables import task_history, tasks

__all__ = [
    "PROCESSED_SORTS",
    "SORTABLE",
    "VIEW",
    "TaskFilter",
    "TasksView",
    "abort_points",
    "aborted_counts",
    "aborted_tasks",
    "delete_jobs",
    "durations",
    "get_task",
    "latest_activity",
    "list_tasks",
    "natural_key",
    "processed_per_agent",
    "producers",
    "status_counts",
    "task_history",
    "task_summary",
    "tasks",
    "waterfall",
    "waterfall_total",
]
