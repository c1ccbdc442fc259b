"""Generic NDJSON: each line is one event, in any shape the ingest API accepts, straight into
the event log."""

from __future__ import annotations

import orjson

from watchkeeper.events import Event
from watchkeeper.events.decode import translate_item
from watchkeeper.events.model import Issue
from watchkeeper.inputs.caddy import LineError


def parse(raw: bytes, now: float, event_id: str) -> Event:
    """The event of one line; ``event_id`` (the line's place in its file) unless the line
    names its own, so reading a line twice stores it once."""
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise LineError("not JSON") from None
    issues: list[Issue] = []
    event = translate_item(item, "", now, issues)
    if event is None or issues:
        raise LineError("; ".join(f"{i.path}: {i.reason}" for i in issues) or "not an event")
    event.event_id = event.event_id or event_id
    return event
