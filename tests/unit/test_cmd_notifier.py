"""The command queue's waiters wake on their own key only, and leave nothing behind."""

from __future__ import annotations

import asyncio

from watchkeeper.store.cmdqueue import Notifier, agent_key, command_key


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_change_wakes_only_the_waiters_of_its_key() -> None:
    async def scenario() -> None:
        notifier = Notifier()
        looks = {"a": 0, "b": 0}
        ready = {"a": False, "b": False}

        def looker(name: str):  # type: ignore[no-untyped-def]
            async def look() -> str | None:
                looks[name] += 1
                return name if ready[name] else None

            return look

        # A recheck far beyond the test's life: only a notification can wake them.
        waiting = {
            name: asyncio.create_task(notifier.poll(key, looker(name), 3600, recheck=3600))
            for name, key in (("a", agent_key(1, 1)), ("b", command_key("x")))
        }
        await _settle()
        assert looks == {"a": 1, "b": 1}
        ready["a"] = True
        notifier.notify(agent_key(1, 1))
        assert await waiting["a"] == "a"
        await _settle()
        assert looks == {"a": 2, "b": 1}, "the other key's waiter looked again"
        notifier.notify(command_key("x"))  # woken, finds nothing: waits again
        await _settle()
        assert looks["b"] == 2 and not waiting["b"].done()
        ready["b"] = True
        notifier.notify(command_key("x"))
        assert await waiting["b"] == "b"
        assert notifier._waiting == {}

    asyncio.run(scenario())


def test_a_waiter_that_gives_up_leaves_no_entry() -> None:
    async def scenario() -> None:
        notifier = Notifier()

        async def nothing() -> None:
            return None

        both = [notifier.poll(command_key("y"), nothing, 0.01, recheck=0.005) for _ in range(2)]
        assert await asyncio.gather(*both) == [None, None]
        assert notifier._waiting == {}

    asyncio.run(scenario())
