"""Static files: our own CSS and scripts, and the third-party assets from installed packages:
plotly.js from ``plotly``, Swagger UI and ReDoc from ``fastapi_offline``.

Nothing is fetched from a CDN, so the dashboard and the API docs work on a network without the
internet. Starlette's :class:`StaticFiles` resolves every path inside its directory and refuses
the rest (``..``, encoded or not, answers 404); the vendored files are a fixed list.
"""

from __future__ import annotations

import gzip
import pathlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

import fastapi_offline
import plotly
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from watchkeeper import __version__
from watchkeeper.api.auth import public

STATIC = pathlib.Path(__file__).with_name("static")
VENDOR_PREFIX = "/static/vendor/"
#: Asset URLs carry a version, so browsers may keep them for a year.
LONG_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}

_PLOTLY_DIR = pathlib.Path(plotly.__file__).parent / "package_data"
_DOCS_DIR = pathlib.Path(fastapi_offline.__file__).parent / "static"
_DOCS_VERSION = version("fastapi_offline")


@dataclass(frozen=True, slots=True)
class Vendored:
    """A file shipped by an installed package, and the version its URL carries."""

    path: pathlib.Path
    media_type: str
    version: str


#: Every vendored file by the name it is served under (``/static/vendor/<name>``).
VENDORED = {
    "plotly.min.js": Vendored(_PLOTLY_DIR / "plotly.min.js", "text/javascript", plotly.__version__),
    "swagger-ui-bundle.js": Vendored(
        _DOCS_DIR / "swagger-ui-bundle.js", "text/javascript", _DOCS_VERSION
    ),
    "swagger-ui.css": Vendored(_DOCS_DIR / "swagger-ui.css", "text/css", _DOCS_VERSION),
    "redoc.standalone.js": Vendored(
        _DOCS_DIR / "redoc.standalone.js", "text/javascript", _DOCS_VERSION
    ),
}


@cache
def vendored_file(name: str) -> pathlib.Path:
    path = VENDORED[name].path
    if not path.is_file():
        raise RuntimeError(f"the package that ships {name} has no file at {path}")
    return path


@cache
def vendored_gzipped(name: str) -> bytes:
    """A vendored file compressed once (plotly.js's 4.8 MB becomes about 1.4 MB): on a slow
    hotspot's Wi-Fi the transfer, not the server, is what a first visit waits for."""
    return gzip.compress(vendored_file(name).read_bytes(), compresslevel=6)


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def vendor_url(name: str) -> str:
    return f"{VENDOR_PREFIX}{name}?v={VENDORED[name].version}"


def plotly_url() -> str:
    return vendor_url("plotly.min.js")


def mount(app: FastAPI) -> None:
    def vendor(name: str, request: Request) -> Response:
        # A plain (not async) function: the first call compresses, in a worker thread.
        if name not in VENDORED:
            raise HTTPException(404, "Not Found")
        media_type = VENDORED[name].media_type
        headers = {**LONG_CACHE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(vendored_gzipped(name), media_type=media_type, headers=headers)
        return FileResponse(vendored_file(name), media_type=media_type, headers=headers)

    # Declared before the /static mount, which would otherwise answer 404 for it.
    app.add_api_route(
        VENDOR_PREFIX + "{name}",
        vendor,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[public()],
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
