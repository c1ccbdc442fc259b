"""The live fan-out: items shared among subscribers, backlogs bounded, slow ones dropped."""

from __future__ import annotations

import asyncio

from watchkeeper.api.live import Feed, Feeds


def run(coro):
    return asyncio.run(coro)


async def idle(feed: Feed) -> None:
    while feed.listening:
        await asyncio.sleep(0.001)


def test_every_subscriber_gets_the_same_objects():
    async def main() -> None:
        feed = Feed(idle, backlog_bytes=100)
        a, b = feed.subscribe(), feed.subscribe()
        item = b"frame"
        feed.publish(item, len(item))
        got_a, got_b = await a.take(1.0), await b.take(1.0)
        assert got_a == got_b == [item]
        assert got_a[0] is got_b[0]  # shared, not copied per client
        feed.unsubscribe(a)
        feed.unsubscribe(b)

    run(main())


def test_a_subscriber_that_falls_behind_is_dropped_and_its_backlog_freed():
    async def main() -> None:
        owner = Feeds(backlog_bytes=30)
        feed = owner.get("events", idle)
        slow, fast = feed.subscribe(), feed.subscribe()
        for n in range(5):
            feed.publish(n, 10)
            assert await fast.take(1.0) == [n]
        assert slow.dropped and not fast.dropped
        assert slow.items == type(slow.items)() and slow.pending == 0
        assert slow not in feed.subscribers and fast in feed.subscribers
        assert await slow.take(1.0) == []  # at once: the stream ends
        assert feed.dropped == owner.dropped == 1
        assert owner.clients() == 1  # what /metrics shows as watchkeeper_stream_clients
        feed.unsubscribe(fast)

    run(main())


def test_one_item_larger_than_the_backlog_still_reaches_an_idle_subscriber():
    async def main() -> None:
        feed = Feed(idle, backlog_bytes=10)
        sub = feed.subscribe()
        feed.publish("big", 1000)
        assert await sub.take(1.0) == ["big"] and not sub.dropped
        feed.unsubscribe(sub)

    run(main())


def test_rejoin_empties_the_backlog_and_undoes_a_drop():
    async def main() -> None:
        feed = Feed(idle, backlog_bytes=10)
        sub = feed.subscribe()
        feed.publish(1, 10)
        feed.publish(2, 10)
        assert sub.dropped
        feed.rejoin(sub)
        assert not sub.dropped and sub in feed.subscribers and not sub.items
        feed.publish(3, 10)
        assert await sub.take(1.0) == [3]
        feed.unsubscribe(sub)

    run(main())


def test_take_times_out_empty():
    async def main() -> None:
        feed = Feed(idle, backlog_bytes=10)
        sub = feed.subscribe()
        assert await sub.take(0.01) == []
        feed.unsubscribe(sub)

    run(main())


def test_the_producer_runs_only_while_someone_listens_and_is_forgotten_after():
    async def main() -> None:
        owner = Feeds(backlog_bytes=10)
        runs = []

        async def produce(feed: Feed) -> None:
            runs.append(feed)
            await idle(feed)

        feed = owner.get("x", produce)
        sub = feed.subscribe()
        await asyncio.sleep(0.01)
        assert runs == [feed] and owner.by_name == {"x": feed}
        feed.unsubscribe(sub)
        await asyncio.sleep(0.05)
        assert owner.by_name == {}
        again = owner.get("x", produce).subscribe()
        await asyncio.sleep(0.01)
        assert len(runs) == 2
        owner.get("x", produce).unsubscribe(again)
        await asyncio.sleep(0.05)

    run(main())


def test_a_failing_producer_ends_every_stream():
    async def main() -> None:
        async def broken(feed: Feed) -> None:
            raise RuntimeError("database gone")

        owner = Feeds(backlog_bytes=10)
        sub = owner.get("x", broken).subscribe()
        assert await sub.take(1.0) == [] and sub.dropped
        assert owner.by_name == {}

    run(main())
