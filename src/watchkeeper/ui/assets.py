"""Static files: our own CSS and scripts, and plotly.js from the installed ``plotly`` package.

Nothing is fetched from a CDN, so the dashboard works on a network without the internet.
Starlette's :class:`StaticFiles` resolves every path inside its directory and refuses the rest
(``..``, encoded or not, answers 404).
"""

from __future__ import annotations

import gzip
import pathlib
from functools import cache

import plotly
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from watchkeeper import __version__
from watchkeeper.api.auth import public

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


@cache
def plotly_gzipped() -> bytes:
    """plotly.js compressed once (4.8 MB becomes about 1.4 MB): on a slow hotspot's Wi-Fi the
    transfer, not the server, is what a first visit waits for."""
    return gzip.compress(plotly_file().read_bytes(), compresslevel=6)


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def plotly_url() -> str:
    return f"{PLOTLY_PATH}?v={plotly.__version__}"


def mount(app: FastAPI) -> None:
    def vendor_plotly(request: Request) -> Response:
        # A plain (not async) function: the first call compresses, in a worker thread.
        headers = {**LONG_CACHE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(plotly_gzipped(), media_type="text/javascript", headers=headers)
        return FileResponse(plotly_file(), media_type="text/javascript", headers=headers)

    # Declared before the /static mount, which would otherwise answer 404 for it.
    app.add_api_route(
        PLOTLY_PATH,
        vendor_plotly,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[public()],
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
