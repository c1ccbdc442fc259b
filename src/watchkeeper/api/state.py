"""``/api/v1/state``: ingest shards, read the live state document, its counters, intents and
error report, and follow it live (SSE: a snapshot, then JSON merge patches)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from watchkeeper.api.auth import require
from watchkeeper.api.body import read_body
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, WITH_BODY, ApiError, responses
from watchkeeper.api.events import batch_body
from watchkeeper.api.live import Feed, feeds
from watchkeeper.api.params import Int64, refuse_nul
from watchkeeper.api.responses import EVENT_STREAM, JSONResponse, event_stream
from watchkeeper.config import Settings
from watchkeeper.events.state import KIND, MAX_TTL, decode_shards
from watchkeeper.events.statedoc import (
    MISSING,
    Path,
    dotted,
    merge_patch,
    parse_path,
    same_json,
)
from watchkeeper.store import eventlog
from watchkeeper.views import intents as intent_view
from watchkeeper.views import state as view

router = APIRouter(prefix="/api/v1/state", tags=["state"], responses=responses(*ANY_ROUTE, 422))

_INGEST_BODY = batch_body("shard")

PathQuery = Annotated[
    str | None,
    Query(description="A key path: dotted (a.b.c), or a JSON Pointer (/a/b.c) for keys with dots."),
]


def _path(text: str | None) -> Path:
    try:
        return parse_path(text)
    except ValueError as exc:
        raise ApiError(422, "invalid path", [{"path": "query.path", "reason": str(exc)}]) from None


def _settings(request: Request) -> Settings:
    return request.app.state.settings


@router.post(
    "",
    status_code=202,
    dependencies=[require("ingest")],
    responses=responses(*WITH_BODY),
    openapi_extra=_INGEST_BODY,
    summary="Merge shards into the state (all or nothing)",
)
async def ingest(
    request: Request,
    ttl: Annotated[
        float | None,
        Query(gt=0, le=MAX_TTL, description="A time to live for the shard's top-level keys."),
    ] = None,
    x_watchkeeper_source: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Each shard is logged as an event and deep-merged into the state: objects merge, other
    values replace, ``null`` deletes, ``{"$inc": n}`` counts, ``{"$ttl": s, "value": v}`` expires.
    Answers once the batch is durably committed, with the same acknowledgement as events."""
    settings = _settings(request)
    body = await read_body(request, settings.max_body_bytes)
    events = decode_shards(
        body,
        request.headers.get("content-type"),
        header_source=x_watchkeeper_source,
        ttl=ttl,
        max_depth=settings.state_max_depth,
        reserved=settings.state_expired_path,
        max_items=settings.max_batch_events,
    )
    ack = await request.app.state.writer.write(events)
    return JSONResponse(ack.as_dict(), status_code=202)


@router.get(
    "",
    dependencies=[require("read")],
    responses=responses(404),
    summary="The state document, or one subtree",
)
def get_state(
    request: Request, conn: Annotated[sa.Connection, Depends(read_conn)], path: PathQuery = None
) -> JSONResponse:
    keys = _path(path)
    rendered = view.render(
        conn, now=time.time(), path=keys, totals_key=_settings(request).state_expired_path
    )
    if rendered.document is MISSING:
        raise _no_such(keys)
    return JSONResponse(rendered.document)


@router.get(
    "/counters",
    dependencies=[require("read")],
    responses=responses(404),
    summary="Counters with their sources",
)
def get_counters(
    request: Request, conn: Annotated[sa.Connection, Depends(read_conn)], path: PathQuery = None
) -> JSONResponse:
    """Every counter at or below ``path`` with its total and, per source, its increments
    ``p``, decrements ``n`` and value. Folded totals of expired keys are included."""
    keys = _path(path)
    rendered = view.render(
        conn, now=time.time(), path=keys, totals_key=_settings(request).state_expired_path
    )
    if rendered.document is MISSING:
        raise _no_such(keys)
    return JSONResponse({"counters": view.counter_list(rendered)})


@router.get("/intents", dependencies=[require("read")], summary="Every intent and its resolution")
def list_intents(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JSONResponse:
    """One page of intents by id; ``total`` counts them all."""
    found = intent_view.intents(conn, now=time.time(), roles=_settings(request).state_roles)
    return JSONResponse({"intents": found[offset : offset + limit], "total": len(found)})


@router.get(
    "/intents/{intent_id}",
    dependencies=[require("read")],
    responses=responses(404),
    summary="One intent",
)
def get_intent(
    intent_id: str, request: Request, conn: Annotated[sa.Connection, Depends(read_conn)]
) -> JSONResponse:
    """``status`` is ``no_answer`` (no resolution), ``answered`` (hosts answered, not the
    scraper), ``started_no_data`` (the scraper answered) or ``receiving`` (scraper and
    spotter answered)."""
    found = intent_view.intent(
        conn, intent_id, now=time.time(), roles=_settings(request).state_roles
    )
    if found is None:
        raise ApiError(404, f"no intent {intent_id!r}")
    return JSONResponse(found)


@router.get("/errors", dependencies=[require("read")], summary="The error report")
def get_errors(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JSONResponse:
    """Shards at level error or above, or carrying an ``error`` key: per source and key path,
    first and last seen, how many, and the latest details."""
    found, total = view.errors(conn, source=source, limit=limit)
    return JSONResponse({"errors": found, "total": total})


@router.get(
    "/stream",
    dependencies=[require("read")],
    responses=EVENT_STREAM,
    summary="Live state (Server-Sent Events)",
)
async def stream(request: Request, path: PathQuery = None) -> StreamingResponse:
    """``event: snapshot`` with ``{"seq", "state"}`` on connect, then ``event: patch`` with a
    JSON merge patch (RFC 7386) each time the document changes (``id`` is the last ``seq``
    included; keys also change when they expire). A missing subtree is ``null``."""
    refuse_nul(request)
    keys = _path(path)

    async def events() -> AsyncIterator[bytes]:
        feed = _state_feed(request, keys)  # here: the feed may end before the stream starts
        sub = feed.subscribe()
        try:
            yield b"retry: 2000\n\n"
            # A snapshot that has seen every commit made before this client connected.
            wanted = request.app.state.hub.latest
            current = await feed.wait_snapshot(lambda snapshot: snapshot[3] >= wanted)
            if current is None or sub.dropped:
                return
            version, seq, doc, _ = current
            yield _sse("snapshot", seq, {"seq": seq, "state": doc})
            while True:
                items = await sub.take(timeout=15.0)
                if sub.dropped:
                    return  # too far behind: the client reconnects and gets a fresh snapshot
                if not items:
                    yield b": keep-alive\n\n"
                    continue
                chunk = b"".join(frame for v, frame in items if v > version)
                if chunk:
                    yield chunk
        finally:
            feed.unsubscribe(sub)

    return event_stream(events())


def _state_feed(request: Request, keys: Path) -> Feed:
    """The feed of one subtree's patches, shared by every client following that subtree."""
    engine, hub = request.app.state.read_engine, request.app.state.hub
    totals_key = _settings(request).state_expired_path

    async def produce(feed: Feed) -> None:
        # One read and one patch per change, whatever the number of clients; a version
        # number orders the snapshot a client starts from against the patches it receives.
        mark = hub.latest
        seq, doc, due = await anyio.to_thread.run_sync(_read, engine, keys, totals_key)
        version = 0
        # A snapshot is (version, seq, document, the hub's seq it has seen up to).
        feed.set_snapshot((version, seq, doc, mark))
        while feed.listening:
            woke = await hub.wait(mark, timeout=1.0)
            if not woke and (due is None or due > time.time()):
                continue
            mark = hub.latest
            expiring = due is not None and due <= time.time()
            if not expiring and not await anyio.to_thread.run_sync(_shards_after, engine, seq):
                # The commits were other events: the document did not change.
                feed.set_snapshot((version, seq, doc, mark))
                continue
            seq, new, due = await anyio.to_thread.run_sync(_read, engine, keys, totals_key)
            if isinstance(doc, dict) and isinstance(new, dict):
                patch = merge_patch(doc, new)
                changed = patch != {}
            else:
                patch, changed = new, not same_json(new, doc)
            doc = new
            if changed:
                version += 1
                frame = _sse("patch", seq, patch)
                feed.set_snapshot((version, seq, doc, mark))
                feed.publish((version, frame), len(frame))
            else:
                feed.set_snapshot((version, seq, doc, mark))
            await anyio.sleep(0.2)  # coalesce bursts of commits into one patch

    return feeds(request.app.state).get("state:" + orjson.dumps(list(keys)).decode(), produce)


def _sse(event: str, seq: int, data: Any) -> bytes:
    return b"event: %s\nid: %d\ndata: %s\n\n" % (event.encode(), seq, orjson.dumps(data))


def _read(engine: sa.Engine, keys: Path, totals_key: str) -> tuple[int, Any, float | None]:
    """The last seq, the document (``None`` if missing) and the next expiry, from one snapshot."""
    with engine.connect() as conn:
        rendered = view.render(conn, now=time.time(), path=keys, totals_key=totals_key)
        seq = eventlog.last_seq(conn)
        due = view.next_expiry(conn, after=time.time())
    doc = None if rendered.document is MISSING else rendered.document
    return seq, doc, due


def _shards_after(engine: sa.Engine, seq: int) -> bool:
    with engine.connect() as conn:
        return bool(eventlog.read(conn, since_seq=seq, kinds=[KIND], limit=1))


def _no_such(keys: Path) -> ApiError:
    return ApiError(
        404,
        f"no key {dotted(keys)!r} in the state",
        [{"path": "query.path", "reason": "no such key (or it expired)"}],
    )
