"""Views derived from the event log; each module keeps its own tables and queries.

To add a view: write a module with tables on ``store.tables.metadata``, an object with
``name``, ``kinds``, ``tables`` and ``apply(conn, events)``, a migration creating its tables,
and list it in :data:`ALL_VIEWS`.
"""

from __future__ import annotations

from watchkeeper.views import components, groups, incidents, state, tasks
from watchkeeper.views.base import View

ALL_VIEWS: tuple[View, ...] = (tasks.VIEW, components.VIEW, incidents.VIEW, groups.VIEW, state.VIEW)

__all__ = ["ALL_VIEWS", "View"]
