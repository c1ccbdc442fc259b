"""Views derived from the event log; each module keeps its own tables and queries.

To add a view: write a module with tables on ``store.tables.metadata``, an object with
``name``, ``kinds``, ``tables`` and ``apply(conn, events)`` (the contract the writer holds it
to, :class:`watchkeeper.store.view.View`) folding through :mod:`watchkeeper.store.fold`, a
migration creating its tables, and list it in :data:`ALL_VIEWS` (``docs/architecture.md``,
"How to add a view", shows a whole one). The server hands this list to its writer and to the
rebuild; the store never imports a view.
"""

from __future__ import annotations

from watchkeeper.store.view import View
from watchkeeper.views import (
    components,
    groups,
    incidents,
    inputs,
    kpis,
    logs,
    metrics,
    programs,
    state,
    tasks,
)

ALL_VIEWS: tuple[View, ...] = (
    tasks.VIEW,
    components.VIEW,
    incidents.VIEW,
    groups.VIEW,
    state.VIEW,
    logs.VIEW,
    programs.VIEW,
    metrics.VIEW,
    inputs.VIEW,
    kpis.VIEW,
)
#: :data:`ALL_VIEWS` by name, for the writer process, which imports what it folds into.
ALL_VIEWS_REF = f"{__name__}:ALL_VIEWS"

__all__ = ["ALL_VIEWS", "ALL_VIEWS_REF", "View"]
