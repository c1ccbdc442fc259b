"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Requests are encoded once up front and responses are read with just enough parsing to find
their end, so the generator costs far less per request than the servers it measures, and the
same generator drives watchkeeper and every baseline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    seconds: float
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def encode_post(
    path: str, body: bytes, content_type: str = "application/json", host: str = "127.0.0.1"
) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _worker(port: int, requests: Sequence[bytes], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            writer.write(request)
            status = await _read_response(reader)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(port: int, requests: Sequence[bytes], connections: int) -> Result:
    statuses: dict[int, int] = {}
    shares = [requests[i::connections] for i in range(connections)]
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, share, statuses) for share in shares if share))
    return Result(len(requests), time.perf_counter() - start, statuses)


def run(port: int, requests: Sequence[bytes], connections: int) -> Result:
    """Send every request over ``connections`` keep-alive connections; wall time for all."""
    return asyncio.run(_run(port, requests, connections))
