"""Waiting for an event with a timeout, without ``asyncio.wait_for``.

On Python 3.11, ``wait_for`` can swallow a cancellation that arrives just as the awaited
thing completes, and a loop built on it then never stops. ``asyncio.timeout`` counts
cancellations (``Task.uncancel``), so a cancellation from outside always propagates; and it
waits in the caller's task, where ``asyncio.wait`` needed a task of its own per wait.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Whether ``event`` was set within ``timeout`` seconds."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
