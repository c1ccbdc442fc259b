"""``/api/v1/events``: ingest (JSON, array or NDJSON), read the log, and the live SSE stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.routing import Route

from watchkeeper.api.auth import require
from watchkeeper.api.body import read_body
from watchkeeper.api.deps import read_conn
from watchkeeper.api.errors import ANY_ROUTE, WITH_BODY, responses
from watchkeeper.api.hotpath import hot_post
from watchkeeper.api.live import Feed, feeds
from watchkeeper.api.params import Int64, parse_int, refuse_nul
from watchkeeper.api.responses import EVENT_STREAM, JSONResponse, event_stream
from watchkeeper.events.decode import decode_events
from watchkeeper.store import eventlog

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=responses(*ANY_ROUTE, 422))


def batch_body(item: str) -> dict[str, Any]:
    """The OpenAPI request body of an all-or-nothing batch endpoint (read as raw bytes)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"type": "object", "description": f"one {item}"},
                            {"type": "array", "items": {"type": "object"}},
                        ]
                    }
                },
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": f"one JSON {item} per line"}
                },
            },
        }
    }


_INGEST_BODY = batch_body("event")


#: The ingest hot path, answered ahead of the FastAPI routes: FastAPI's per-request machinery
#: costs more than everything else a single-event request does.
FAST_ROUTES: list[Route] = []


@hot_post(
    router,
    "",
    role="ingest",
    into=FAST_ROUTES,
    status_code=202,
    responses=responses(*WITH_BODY),
    openapi_extra=_INGEST_BODY,
    summary="Ingest events (all or nothing)",
)
async def ingest(request: Request) -> Response:
    """Store a batch of events and answer once it is durably committed.

    Accepts a JSON object, a JSON array, or NDJSON (``Content-Type: application/x-ndjson``).
    Each item is one of the fleet's messages (task status, agent ping or agent incident), or
    a generic event with a ``kind``; at most 100,000 per request. An ``event_id`` makes
    re-sending idempotent. Needs the ``ingest`` role.
    """
    settings = request.app.state.settings
    body = await read_body(request, settings.max_body_bytes)
    events = decode_events(
        body, request.headers.get("content-type"), max_items=settings.max_batch_events
    )
    ack = await request.app.state.writer.write(events)
    return JSONResponse(ack.as_dict(), status_code=202)


@router.get("", dependencies=[require("read")], summary="Read the event log")
def list_events(
    conn: Annotated[sa.Connection, Depends(read_conn)],
    since_seq: Annotated[Int64, Query(ge=0)] = 0,
    kind: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> JSONResponse:
    items = eventlog.read(conn, since_seq=since_seq, kinds=kind, limit=limit)
    next_seq = items[-1]["seq"] if items else since_seq
    return JSONResponse({"events": items, "next_since_seq": next_seq})


@router.get(
    "/stream",
    dependencies=[require("read")],
    responses=EVENT_STREAM,
    summary="Live events (Server-Sent Events)",
)
async def stream(
    request: Request,
    since_seq: Annotated[Int64 | None, Query(ge=0)] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Each event as ``id: <seq>`` / ``data: <json>``. Reconnecting with ``Last-Event-ID`` (or
    ``since_seq``) resumes right after that event; with neither, the stream starts now. A
    client that falls more than ``stream_backlog_bytes`` behind is disconnected, and resumes
    the same way."""
    refuse_nul(request)
    engine = request.app.state.read_engine
    if last_event_id is not None:
        start = parse_int("last-event-id", last_event_id, where="header")
    elif since_seq is not None:
        start = since_seq
    else:
        start = await anyio.to_thread.run_sync(_last_seq, engine)
    kinds = frozenset(kind) if kind else None

    async def events() -> AsyncIterator[bytes]:
        feed = _feed(request)  # here, not earlier: the feed may end before the stream starts
        sub = feed.subscribe()
        try:
            yield b"retry: 2000\n\n"
            after = start
            while True:
                # Catch up from the log on this client's own; the feed's backlog covers the
                # same ground, so it is emptied before each read rather than let overflow.
                while True:
                    feed.rejoin(sub)
                    head, page = await anyio.to_thread.run_sync(_catch_up, engine, after, kind)
                    if not page:
                        after = max(after, head)  # every event up to head has been seen
                        break
                    after = page[-1]["seq"]
                    yield b"".join(_frame(item) for item in page)
                # Live: the frames every client shares, as the feed publishes them. Seqs have
                # no gaps, so a first page that does not follow on means the feed started past
                # this client's position: catch up again.
                while True:
                    pages = await sub.take(timeout=15.0)
                    if sub.dropped:
                        return  # too far behind: the client resumes with Last-Event-ID
                    if not pages:
                        yield b": keep-alive\n\n"
                        continue
                    if pages[0].seqs[0] > after + 1:
                        break
                    chunk = b"".join(page.select(after, kinds) for page in pages)
                    after = max(after, pages[-1].last)
                    if chunk:
                        yield chunk
        finally:
            feed.unsubscribe(sub)

    return event_stream(events())


@dataclass(frozen=True, slots=True)
class Frames:
    """One page of the log as stream frames, encoded once for every client."""

    last: int
    seqs: tuple[int, ...]
    kinds: tuple[str, ...]
    frames: tuple[bytes, ...]
    joined: bytes

    @classmethod
    def of(cls, page: list[dict[str, Any]]) -> Frames:
        frames = tuple(_frame(item) for item in page)
        return cls(
            last=page[-1]["seq"],
            seqs=tuple(item["seq"] for item in page),
            kinds=tuple(item["kind"] for item in page),
            frames=frames,
            joined=b"".join(frames),
        )

    def select(self, after: int, kinds: frozenset[str] | None) -> bytes:
        """The frames past ``after`` of the ``kinds`` asked for (all when ``None``)."""
        if kinds is None and self.seqs[0] > after:
            return self.joined
        return b"".join(
            frame
            for seq, k, frame in zip(self.seqs, self.kinds, self.frames, strict=True)
            if seq > after and (kinds is None or k in kinds)
        )


#: Events read from the log at a time, by the feed and by a client catching up.
PAGE = 500
#: The shortest time between two publishes of the event feed: the commits of that time go out
#: together, so each client gets at most ten writes a second however often events are
#: committed (a write to a client costs more than a few more frames in it).
PUBLISH_INTERVAL = 0.1


def _frame(item: dict[str, Any]) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (item["seq"], orjson.dumps(item))


def _feed(request: Request) -> Feed:
    """The application's feed of the log (made on first use)."""
    engine, hub = request.app.state.read_engine, request.app.state.hub

    async def produce(feed: Feed) -> None:
        # Read each commit's events once, encode them once, publish them to every client.
        # From the log's end (the hub knows only this replica's commits); a client whose
        # position is behind that sees the gap in seqs and catches up from the log.
        after = await anyio.to_thread.run_sync(_last_seq, engine)
        while feed.listening:
            mark = hub.latest
            page = await anyio.to_thread.run_sync(_page, engine, after, None)
            if page:
                frames = Frames.of(page)
                after = frames.last
                feed.publish(frames, len(frames.joined))
                if len(page) < PAGE:
                    await anyio.sleep(PUBLISH_INTERVAL)
                continue
            await hub.wait(mark, timeout=1.0)

    return feeds(request.app.state).get("events", produce)


def _last_seq(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return eventlog.last_seq(conn)


def _catch_up(engine: sa.Engine, after: int, kinds: list[str] | None) -> tuple[int, list[dict]]:
    """The last seq, then a page of events past ``after``: when the page is empty, every event
    up to that seq has been read (of the kinds asked for)."""
    with engine.connect() as conn:
        head = eventlog.last_seq(conn)
        return head, eventlog.read(conn, since_seq=after, kinds=kinds, limit=PAGE)


def _page(engine: sa.Engine, after: int, kinds: list[str] | None) -> list[dict]:
    with engine.connect() as conn:
        return eventlog.read(conn, since_seq=after, kinds=kinds, limit=PAGE)
