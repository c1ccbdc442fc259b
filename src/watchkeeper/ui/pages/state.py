"""Live state: the state document as a collapsible tree that follows the state stream, its
counters' per-source breakdown, the intents with their resolution and the error report."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.responses import Response

from watchkeeper.api.deps import read_conn
from watchkeeper.events.statedoc import MISSING, Path, dotted, encode, parse_path
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import PageError, render
from watchkeeper.views import intents as intent_view
from watchkeeper.views import state as state_view

NAV = (NavEntry("state", "Live state", "/state", order=80, windowed=False),)
router = page_router()

#: Rows of each table; the tables say how many more there are.
ROWS = 200
#: Latest details of an error are cut to this many characters in the table.
DETAILS = 400


def _path(request: Request) -> Path:
    try:
        return parse_path(request.query_params.get("path"))
    except ValueError as exc:
        raise PageError(422, f"invalid path: {exc}") from None


def _crumbs(keys: Path) -> list[tuple[str, str]]:
    """(label, pointer) of each ancestor of ``keys`` and of ``keys`` itself."""
    return [(key, encode(keys[: i + 1])) for i, key in enumerate(keys)]


def tables(request: Request, conn: sa.Connection) -> dict[str, Any]:
    settings = request.app.state.settings
    found = intent_view.intents(conn, now=time.time(), roles=settings.state_roles)
    for entry in found[:ROWS]:
        body = entry["intent"]
        entry["pointer"] = encode((intent_view.INTENTS_KEY, entry["id"]))
        entry["host"] = body.get("host") if isinstance(body, dict) else None
    errors, error_total = state_view.errors(conn, limit=ROWS)
    for entry in errors:
        text = orjson.dumps(entry["details"]).decode()
        entry["details_text"] = text if len(text) <= DETAILS else text[: DETAILS - 1] + "…"
    return {
        "intents": found[:ROWS],
        "intent_total": len(found),
        "errors": errors,
        "error_total": error_total,
    }


@router.get("/state")
def state_page(request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]) -> Response:
    keys = _path(request)
    settings = request.app.state.settings
    # Only a subtree can be missing; reading it alone is cheap (the tree itself comes from the
    # stream, which sends the document on connect).
    missing = bool(keys) and (
        state_view.render(
            conn, now=time.time(), path=keys, totals_key=settings.state_expired_path
        ).document
        is MISSING
    )
    return render(
        request,
        "state.html",
        active="state",
        title="Live state",
        status_code=404 if missing else 200,
        path=dotted(keys),
        pointer=encode(keys),
        crumbs=_crumbs(keys),
        missing=missing,
        totals_key=settings.state_expired_path,
        tables=tables(request, conn),
    )


@router.get("/partials/state-tables")
def state_tables(request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]) -> Response:
    """The intents and the error report alone, re-fetched by the page as shards arrive."""
    return render(
        request, "_state_tables.html", active="state", title="", tables=tables(request, conn)
    )
