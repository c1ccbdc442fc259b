"""One write per response: uvicorn's HTTP/1.1 protocol with its writes coalesced.

uvicorn writes a response's status line and headers, then its body, each with a write call
of its own: two ``write(2)`` calls and two TCP segments per response, and a client that wakes
twice to read it. :class:`CoalescingProtocol` gives the protocol a transport that keeps what
is written during one turn of the event loop and hands it to the socket at the end of that
turn, in one call. A streamed body still flows: a turn that writes more than :data:`HIGH`
bytes hands them over at once, so the real transport's flow control (pausing the writer)
works as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Bytes kept back at most before they are handed over within the same turn.
HIGH = 64 << 10


class CoalescingTransport:
    """A transport proxy: ``write`` keeps, the end of the loop's turn writes."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._kept:
            self._loop.call_soon(self.flush)
        self._kept.append(bytes(data))
        self._size += len(data)
        if self._size > HIGH:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._kept:
            return
        data = self._kept[0] if len(self._kept) == 1 else b"".join(self._kept)
        self._kept, self._size = [], 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._kept, self._size = [], 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        # Everything else (extra info, reading, protocol switching) is the socket's own.
        return getattr(self._transport, name)


class CoalescingProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        proxy = CoalescingTransport(transport, self.loop)
        super().connection_made(proxy)  # type: ignore[arg-type]
