"""The bare-endpoint baseline: a Starlette app that only reads and parses the body.

Run by the benchmarks under the same uvicorn settings as ``watchkeeper serve``; what
watchkeeper adds over this is validation, storage, views and durability.
"""

from __future__ import annotations

import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def ingest(request: Request) -> Response:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-ndjson"):
        items = [orjson.loads(line) for line in body.splitlines() if line.strip()]
    else:
        items = orjson.loads(body)
    count = len(items) if isinstance(items, list) else 1
    return Response(
        orjson.dumps({"accepted": count}), status_code=202, media_type="application/json"
    )


app = Starlette(
    routes=[
        Route("/api/v1/events", ingest, methods=["POST"]),
        Route("/healthz", lambda r: Response(b"{}"), methods=["GET"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
