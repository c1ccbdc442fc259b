"""The dashboard's pages, one module (and router) per page family.

To add a page: write a module here with a ``router`` (an ``APIRouter`` with
``dependencies=[PAGE_ACCESS]``) and a ``NAV`` tuple of :class:`~watchkeeper.ui.nav.NavEntry`,
a template in ``ui/templates/`` that extends ``base.html``, and list the module in
:data:`PAGES`. That is all: the router is mounted and the entry appears in the bar.
"""

from __future__ import annotations

from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages import (
    agents,
    commands,
    components,
    groups,
    incidents,
    kpis,
    logs,
    overview,
    processed,
    series,
    state,
    tasks,
)

PAGES = (
    overview,
    tasks,
    agents,
    processed,
    components,
    incidents,
    logs,
    groups,
    state,
    series,
    commands,
    kpis,
)

ROUTERS = tuple(page.router for page in PAGES)
NAV: tuple[NavEntry, ...] = tuple(
    sorted((entry for page in PAGES for entry in page.NAV), key=lambda e: e.order)
)
