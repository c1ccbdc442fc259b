"""A JSON response rendered with orjson (fast, and handles what the views return as-is), and
the live streams' Server-Sent Events response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

#: The OpenAPI answer of a Server-Sent Events route.
EVENT_STREAM: dict[int | str, Any] = {
    200: {
        "description": "Server-Sent Events (`id: <seq>`, `data: <json>`), until disconnected",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "description": "one event",
                    "properties": {
                        "id": {"type": "string"},
                        "event": {"type": "string"},
                        "data": {"type": "string"},
                    },
                }
            }
        },
    }
}


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def event_stream(frames: AsyncIterator[bytes]) -> StreamingResponse:
    """Server-Sent Events from ``frames``, neither cached nor buffered by a proxy on the way."""
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
