"""Static files: our own CSS and scripts, and plotly.js from the installed ``plotly`` package.

Nothing is fetched from a CDN, so the dashboard works on a network without the internet.
Starlette's :class:`StaticFiles` resolves every path inside its directory and refuses the rest
(``..``, encoded or not, answers 404).
"""

from __future__ import annotations

import pathlib
from functools import cache

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from watchkeeper import __version__

STATIC = pathlib.Path(__file__).with_name("static")
PLOTLY_PATH = "/static/vendor/plotly.min.js"
#: Asset URLs carry a version, so browsers may keep them for a year.
LONG_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}


@cache
def plotly_file() -> pathlib.Path:
    path = pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"the plotly package has no plotly.min.js at {path}")
    return path


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def plotly_url() -> str:
    return f"{PLOTLY_PATH}?v={plotly.__version__}"


def mount(app: FastAPI) -> None:
    async def vendor_plotly() -> FileResponse:
        return FileResponse(plotly_file(), media_type="text/javascript", headers=LONG_CACHE)

    # Declared before the /static mount, which would otherwise answer 404 for it.
    app.add_api_route(PLOTLY_PATH, vendor_plotly, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
