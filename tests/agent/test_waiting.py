"""``wait_event``: true when the event is set in time, false after the timeout, and a
cancellation from outside always ends the wait (a loop built on it stops)."""

from __future__ import annotations

import asyncio

import pytest

from watchkeeper.agent.waiting import wait_event


def test_set_in_time_unset_after_the_timeout_and_no_timeout() -> None:
    async def main() -> tuple[bool, bool, bool, bool]:
        event = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, event.set)
        first = await wait_event(event, 5)
        already = await wait_event(event, 0)
        event.clear()
        late = await wait_event(event, 0.01)
        asyncio.get_running_loop().call_later(0.01, event.set)
        forever = await wait_event(event, None)
        return first, already, late, forever

    assert asyncio.run(main()) == (True, True, False, True)


def test_a_cancellation_is_never_swallowed() -> None:
    async def loop_until_cancelled(event: asyncio.Event) -> None:
        while True:
            await wait_event(event, 0.0001)
            event.clear()

    async def main() -> int:
        stopped = 0
        for n in range(200):
            event = asyncio.Event()
            task = asyncio.create_task(loop_until_cancelled(event))
            await asyncio.sleep(0.0001 * (n % 5))
            event.set()  # a wake and a cancel in the same turn
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            stopped += 1
        return stopped

    assert asyncio.run(main()) == 200
