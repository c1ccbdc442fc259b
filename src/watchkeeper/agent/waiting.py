"""Waiting for an event with a timeout, without ``asyncio.wait_for``.

On Python 3.11, ``wait_for`` can swallow a cancellation that arrives just as the awaited
thing completes, and a loop built on it then never stops; ``asyncio.wait`` cannot.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Whether ``event`` was set within ``timeout`` seconds."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return bool(done)
