"""The Redis queue's one-trip steps on the real Redis: a take claims the record in one script
(and still takes one stored the older way), a result is stored in one script, and a waiter
reads the outcome from the result list, as the stored record has it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from tests.support import REDIS_ENV, require_service
from watchkeeper.store.cmdqueue import make_record, public
from watchkeeper.store.cmdredis import RedisQueue, agent_key, dump, record_key, result_key

pytestmark = [pytest.mark.redis]


@pytest.fixture
def redis_url() -> str:
    import redis

    url = require_service(REDIS_ENV, "Redis")
    redis.Redis.from_url(url).flushdb()
    return url


def _record(nid: int = 1, ttl: float = 60, **args: Any) -> dict[str, Any]:
    command = {"gid": 1, "nid": nid, "cmd": "ping", "args": args}
    return make_record(command, by="admin:test", via="api", ttl=ttl)


def run(redis_url: str, body: Any) -> Any:
    async def main() -> Any:
        queue = RedisQueue(redis_url, ttl=60, result_ttl=600)
        try:
            return await body(queue)
        finally:
            await queue.redis.aclose()

    return asyncio.run(main())


def test_a_take_claims_the_record_and_the_record_keeps_its_shape(redis_url: str) -> None:
    async def body(queue: RedisQueue) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        # Arguments that look like a record's state must not fool the claim.
        record = _record(state="QUEUED", nested={"state": "QUEUED"})
        await queue.submit(record)
        stored = orjson.loads(await queue.redis.get(record_key(record["id"])))
        taken = await queue.take(1, 1, 0)
        assert taken is not None
        after = await queue._load(record["id"])
        assert after is not None
        return record, taken, after | {"stored_first": next(iter(stored))}

    record, taken, after = run(redis_url, body)
    assert after.pop("stored_first") == "state"
    assert taken == after == record | {"state": "RUNNING"}
    assert taken["args"] == {"state": "QUEUED", "nested": {"state": "QUEUED"}}


def test_a_record_stored_the_older_way_is_still_taken(redis_url: str) -> None:
    async def body(queue: RedisQueue) -> dict[str, Any] | None:
        record = _record()
        await queue.submit(record)
        # As a server before the claim script stored it: the state not first.
        await queue.redis.set(record_key(record["id"]), orjson.dumps(record), ex=600)
        return await queue.take(1, 1, 0)

    taken = run(redis_url, body)
    assert taken is not None and taken["state"] == "RUNNING"


def test_cancelled_and_expired_commands_are_not_taken(redis_url: str) -> None:
    async def body(queue: RedisQueue) -> tuple[Any, ...]:
        cancelled, expired = _record(), _record(ttl=0.05)
        await queue.submit(cancelled)
        await queue.submit(expired)
        # Cancelled while its entry was on its way to an agent (LREM found nothing yet).
        await queue.redis.set(
            record_key(cancelled["id"]), dump(cancelled | {"state": "KILLED"}), ex=600
        )
        await asyncio.sleep(0.1)
        taken = await queue.take(1, 1, 0)
        return taken, await queue._load(cancelled["id"]), await queue._load(expired["id"])

    taken, cancelled, expired = run(redis_url, body)
    assert taken is None
    assert cancelled["state"] == "KILLED"
    assert public(expired)["state"] == expired["state"] == "EXPIRED"


def test_a_waiter_reads_the_outcome_the_record_was_stored_with(redis_url: str) -> None:
    async def body(queue: RedisQueue) -> tuple[Any, ...]:
        record = _record(nid=2)
        await queue.submit(record)
        taken = await queue.take(1, 2, 0)
        assert taken is not None
        waiting = asyncio.create_task(queue.get(record["id"], wait=5))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        result = {**taken, "state": "SUCCESS", "level": 30, "data": {"pong": 1}}
        result |= {"starttime": int(time.time() * 1000), "time": 3}
        assert await queue.finish(1, 2, result) == "stored"
        seen = await asyncio.wait_for(waiting, 5)
        stored = await queue._load(record["id"])
        original = await queue.redis.lrange(result_key(record["id"]), 0, -1)
        ttl = await queue.redis.ttl(result_key(record["id"]))
        again = await queue.finish(1, 2, result)
        return seen, stored, original, ttl, again

    seen, stored, original, ttl, again = run(redis_url, body)
    assert seen == stored
    assert (stored["state"], stored["level"], stored["data"]) == ("SUCCESS", 30, '{"pong":1}')
    # The original client's result: one entry, the original shape, expiring.
    assert len(original) == 1
    assert set(orjson.loads(original[0])) == {
        "id", "gid", "nid", "cmd", "args", "data", "level", "state", "starttime", "time"
    }  # fmt: skip
    assert 0 < ttl <= 600
    assert again == "done"  # a retried result is stored once


def test_agent_key_layout_is_the_originals() -> None:
    assert agent_key(3, 14) == "3:14"
    assert result_key("x") == "cmds_queue_x" and record_key("x") == "cmds_record_x"
