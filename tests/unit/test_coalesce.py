"""The response writes of one turn of the event loop leave in one write to the socket."""

from __future__ import annotations

import asyncio
import socket

from watchkeeper.api.coalesce import HIGH, CoalescingTransport


async def _pair() -> tuple[asyncio.Transport, socket.socket, asyncio.AbstractEventLoop]:
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    theirs.setblocking(False)
    return transport, theirs, loop


def _received(sock: socket.socket) -> list[bytes]:
    chunks = []
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return chunks
        if not chunk:  # closed
            return chunks
        chunks.append(chunk)


async def writes_of_one_turn_leave_together() -> None:
    transport, peer, loop = await _pair()
    writes: list[bytes] = []
    real_write = transport.write
    transport.write = lambda data: (writes.append(bytes(data)), real_write(data))  # type: ignore[method-assign]
    proxy = CoalescingTransport(transport, loop)
    proxy.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    proxy.write(b"")
    proxy.write(bytearray(b"ok"))
    assert writes == []  # kept until the turn ends
    await asyncio.sleep(0)
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    await asyncio.sleep(0.01)
    assert b"".join(_received(peer)) == writes[0]
    proxy.write(b"next")
    await asyncio.sleep(0)
    assert writes[1:] == [b"next"]
    transport.close()
    peer.close()


async def a_large_turn_is_handed_over_at_once() -> None:
    transport, peer, loop = await _pair()
    proxy = CoalescingTransport(transport, loop)
    proxy.write(b"x" * (HIGH // 2))
    assert proxy.get_write_buffer_size() >= HIGH // 2
    proxy.write(b"y" * HIGH)  # beyond HIGH: written within the turn
    assert proxy._kept == []
    await asyncio.sleep(0.05)
    assert len(b"".join(_received(peer))) == HIGH // 2 + HIGH
    transport.close()
    peer.close()


async def close_sends_and_abort_drops() -> None:
    transport, peer, loop = await _pair()
    proxy = CoalescingTransport(transport, loop)
    proxy.write(b"last words")
    proxy.close()
    await asyncio.sleep(0.05)
    assert b"".join(_received(peer)) == b"last words"
    assert proxy.is_closing()  # everything else is the socket's own
    peer.close()

    transport, peer, loop = await _pair()
    proxy = CoalescingTransport(transport, loop)
    proxy.write(b"never sent")
    proxy.abort()
    await asyncio.sleep(0.05)
    assert _received(peer) == []
    peer.close()


def test_writes_of_one_turn_leave_together_at_its_end() -> None:
    asyncio.run(writes_of_one_turn_leave_together())


def test_a_large_turn_is_handed_over_at_once_so_flow_control_still_works() -> None:
    asyncio.run(a_large_turn_is_handed_over_at_once())


def test_close_sends_what_was_kept_and_abort_drops_it() -> None:
    asyncio.run(close_sends_and_abort_drops())
