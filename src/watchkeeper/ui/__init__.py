"""The web dashboard: server-rendered pages (Jinja2), our own CSS and small scripts, and
plotly.js served from the installed ``plotly`` package, so it works on an offline network.

:func:`mount` adds everything to the application; the pages themselves live in
:mod:`watchkeeper.ui.pages`, one router per page family.
"""

from __future__ import annotations

from fastapi import FastAPI

from watchkeeper.ui import access, assets
from watchkeeper.ui.pages import ROUTERS


def mount(app: FastAPI) -> None:
    """Add the static files, the login pages and every page router to ``app``."""
    assets.mount(app)
    access.install(app)
    for router in ROUTERS:
        app.include_router(router)
