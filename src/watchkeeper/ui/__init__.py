"""The web dashboard: server-rendered pages (Jinja2), our own CSS and small scripts, and
plotly.js served from the installed ``plotly`` package, so it works on an offline network;
also the API docs (``/docs``, ``/redoc``) with their assets served the same way.

:func:`mount` adds everything to the application; the pages themselves live in
:mod:`watchkeeper.ui.pages`, one router per page family.
"""

from __future__ import annotations

from fastapi import FastAPI

from watchkeeper.ui import access, apidocs, assets
from watchkeeper.ui.pages import ROUTERS


def mount(app: FastAPI) -> None:
    """Add the static files, the login pages, the API docs and every page router to ``app``."""
    assets.mount(app)
    access.install(app)
    app.include_router(apidocs.router)
    for router in ROUTERS:
        app.include_router(router)
