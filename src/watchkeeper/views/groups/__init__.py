"""Task groups: Lamia tasks with their processes, jobs, events and progress (seed 003).

:mod:`.tables` holds the tables, :mod:`.fold` folds Lamia's events into them (the view),
:mod:`.progress` is the progress arithmetic, :mod:`.queries` reads rows for the API's edges and
:mod:`.grid` shapes groups, job slots and history for ``/api/v1/groups`` and the dashboard.
Lamia's own field names belong to its edge, :mod:`watchkeeper.api.lamia_v0`.
"""

from __future__ import annotations

from watchkeeper.views.groups.fold import VIEW, GroupsView, delete_group
from watchkeeper.views.groups.grid import get_group, group_summary, list_groups, process_summary
from watchkeeper.views.groups.progress import enough_of, progress_of
from watchkeeper.views.groups.queries import created_seq, latest_events, lookup
from watchkeeper.views.groups.tables import TABLES

__all__ = [
    "TABLES",
    "VIEW",
    "GroupsView",
    "created_seq",
    "delete_group",
    "enough_of",
    "get_group",
    "group_summary",
    "latest_events",
    "list_groups",
    "lookup",
    "process_summary",
    "progress_of",
]
