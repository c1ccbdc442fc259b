"""The command queue in Redis, in the original controller's layout, shared by every server.

- ``cmds_queue``: commands pushed by the original Python client (``LPUSH``); every server
  moves them, oldest first (``BRPOP``), to their agent's list.
- ``<gid>:<nid>``: one list per agent, of command JSON; agents take from the head (``BLPOP``)
  and new commands go to the tail, so they are delivered in order (a ``kill`` goes to the head).
- ``cmds_queue_<id>``: the command's result (``RPUSH``), as the original client waits for it
  (``BLPOP``), with an expiry.
- ``cmds_record_<id>``: the record (state, sender, times); ``cmds_history`` and
  ``cmds_history_<gid>:<nid>`` are sorted sets of ids by submission time.

Only this module imports ``redis`` (the ``redis`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from watchkeeper.store.cmdqueue import (
    FINAL,
    OUTCOME,
    Audit,
    Duplicate,
    Finish,
    Full,
    kill_record,
    make_record,
    outcome,
    public,
    wire,
)

log = logging.getLogger(__name__)

INBOX = "cmds_queue"
HISTORY = "cmds_history"
#: Ids kept in the history sets (the records themselves expire).
HISTORY_MAX = 100_000
#: The most commands moved from ``cmds_queue`` at once.
MOVE_BATCH = 100


#: Queue a command in one round trip, atomically: the agent's queue is counted, the record
#: created only if its id is new, then the command pushed and the history updated. Answers
#: ``-1`` when queued, ``-2`` for an id taken, or the count of commands already waiting.
SUBMIT = """
local max_queued = tonumber(ARGV[6])
if max_queued >= 0 then
  local waiting = redis.call('LLEN', KEYS[2])
  if waiting >= max_queued then return waiting end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3], 'NX') then return -2 end
if ARGV[5] == '1' then
  redis.call('LPUSH', KEYS[2], ARGV[2])
else
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[8])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[8])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[7]) - 1)
return -1
"""
QUEUED, DUPLICATE = -1, -2
#: Store a result in one round trip, atomically: the record first (who wakes on the result
#: list reads it), then the result for the original client, both expiring.
FINISH = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
#: Take a queued command in one round trip: its record, stored with its state first
#: (:func:`dump`), turns RUNNING unless it was cancelled or has expired. Answers ``[1, the
#: running record]``, or ``[0, the record]`` for the caller to judge, or nil for none.
CLAIM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local head = '{"state":"QUEUED",'
if string.sub(raw, 1, #head) ~= head then return {0, raw} end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record['expires']) ~= 'number' or record['expires'] < tonumber(ARGV[1]) then
  return {0, raw}
end
local running = '{"state":"RUNNING",' .. string.sub(raw, #head + 1)
redis.call('SET', KEYS[1], running, 'EX', ARGV[2])
return {1, running}
"""


def dump(record: dict[str, Any]) -> bytes:
    """A record as stored: its state first, where :data:`CLAIM` finds it."""
    return orjson.dumps({"state": record["state"], **record})


def agent_key(gid: int, nid: int) -> str:
    return f"{gid}:{nid}"


def result_key(cid: str) -> str:
    return f"cmds_queue_{cid}"


def record_key(cid: str) -> str:
    return f"cmds_record_{cid}"


class RedisQueue:
    def __init__(self, url: str, ttl: float, result_ttl: float, audit: Audit | None = None) -> None:
        self.redis = aioredis.Redis.from_url(url, decode_responses=True)
        self.ttl = ttl
        self.result_ttl = int(result_ttl)
        self.audit = audit
        self._mover: asyncio.Task[None] | None = None
        self.closing = False
        self._submit = self.redis.register_script(SUBMIT)
        self._finish = self.redis.register_script(FINISH)
        self._claim = self.redis.register_script(CLAIM)

    def stop_waiting(self) -> None:
        # The waits below block for a second at most, then look at this.
        self.closing = True

    async def start(self) -> None:
        await self.redis.ping()
        self._mover = asyncio.create_task(self._move(), name="cmds_queue mover")

    async def close(self) -> None:
        if self._mover is not None:
            self._mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mover
        await self.redis.aclose()

    async def _save(self, record: dict[str, Any]) -> None:
        await self.redis.set(record_key(record["id"]), dump(record), ex=self.result_ttl)

    async def _load(self, cid: str) -> dict[str, Any] | None:
        raw = await self.redis.get(record_key(cid))
        return None if raw is None else dict(orjson.loads(raw))

    async def submit(self, record: dict[str, Any], max_queued: int | None = None) -> dict[str, Any]:
        gid, nid, cid = record["gid"], record["nid"], record["id"]
        answer = await self._submit(
            keys=[
                record_key(cid),
                agent_key(gid, nid),
                HISTORY,
                f"{HISTORY}_{agent_key(gid, nid)}",
            ],
            args=[
                dump(record),
                orjson.dumps(wire(record)),
                self.result_ttl,
                record["submitted"],
                1 if record["priority"] > 0 else 0,
                -1 if max_queued is None else max_queued,
                HISTORY_MAX,
                cid,
            ],
        )
        if answer == DUPLICATE:
            raise Duplicate(cid)
        if answer != QUEUED:
            raise Full(int(answer))
        return record

    async def _move(self) -> None:
        """Commands the original client pushed onto ``cmds_queue``, in arrival order; what has
        arrived meanwhile is moved with the first, and audited in one write."""
        while True:
            try:
                popped = await self.redis.brpop([INBOX], timeout=1)
                if popped is None:
                    continue
                raws = [str(popped[1]), *(await self.redis.rpop(INBOX, MOVE_BATCH - 1) or [])]
                adopted = [record for raw in raws if (record := await self._adopt(raw))]
                if adopted and self.audit is not None:
                    await self.audit(adopted)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away for a moment: keep moving once it is back
                log.exception("moving commands from %s", INBOX)
                await asyncio.sleep(1.0)

    async def _adopt(self, raw: str) -> dict[str, Any] | None:
        try:
            command = orjson.loads(raw)
            record = make_record(command, by="redis", via="redis", ttl=self.ttl)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("dropped a malformed command from %s: %s (%.200s)", INBOX, exc, raw)
            return None
        try:
            return await self.submit(record)
        except Duplicate:
            log.warning("dropped command %s from %s: its id is taken", record["id"], INBOX)
            return None

    async def queued(self, gid: int, nid: int) -> int:
        return int(await self.redis.llen(agent_key(gid, nid)))

    async def take(self, gid: int, nid: int, wait: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            # BLPOP's timeout is in whole seconds on old servers; below one, look once. A
            # second at a time, so that a stopping server's polls end soon.
            if left >= 1 and not self.closing:
                popped = await self.redis.blpop([agent_key(gid, nid)], timeout=1)
                raw: Any = popped[1] if popped else None
                if raw is None:
                    continue
            else:
                raw = await self.redis.lpop(agent_key(gid, nid))
            if raw is None:
                return None
            command = orjson.loads(raw)
            answer = await self._claim(
                keys=[record_key(str(command.get("id")))], args=[time.time(), self.result_ttl]
            )
            if answer is None:  # its record expired: nobody can see its result any more
                continue
            claimed, stored = answer
            record = dict(orjson.loads(stored))
            if claimed:
                return record
            # Not claimed: cancelled, expired, or stored with its state elsewhere.
            if record["state"] != "QUEUED":  # cancelled while queued
                continue
            if record["expires"] < time.time():
                await self._save(public(record))
                continue
            record["state"] = "RUNNING"
            await self._save(record)
            return record

    async def finish(self, gid: int, nid: int, result: dict[str, Any]) -> str:
        record = await self._load(str(result["id"]))
        if record is None:
            return Finish.UNKNOWN
        if (record["gid"], record["nid"]) != (gid, nid):
            return Finish.FOREIGN
        if record["state"] in FINAL:
            return Finish.DONE
        record.update(outcome(result))
        shown = {k: record[k] for k in ("id", "gid", "nid", "cmd", "args", "data", "level")}
        shown |= {k: record[k] for k in ("state", "starttime", "time")}
        await self._finish(
            keys=[record_key(record["id"]), result_key(record["id"])],
            args=[dump(record), orjson.dumps(shown), self.result_ttl],
        )
        return Finish.STORED

    async def get(self, cid: str, wait: float = 0) -> dict[str, Any] | None:
        deadline = time.monotonic() + wait
        while True:
            record = await self._load(cid)
            if record is None or public(record)["state"] in FINAL:
                return record
            left = deadline - time.monotonic()
            if left <= 0 or self.closing:
                return record
            # Rotating the one-element result list waits for it without taking it away from
            # the original client, which pops it.
            key = result_key(cid)
            moved = await self.redis.blmove(key, key, min(left, 1.0), "RIGHT", "RIGHT")  # type: ignore[arg-type]
            if moved is not None:
                # The result holds every field the result changed in the record, which was
                # stored with it: no need to read the record again.
                shown = orjson.loads(moved)
                if isinstance(shown, dict) and shown.get("state") in FINAL:
                    return record | {k: shown.get(k) for k in OUTCOME}

    async def history(
        self, gid: int | None, nid: int | None, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        key = HISTORY if gid is None or nid is None else f"{HISTORY}_{agent_key(gid, nid)}"
        found: list[dict[str, Any]] = []
        start, page = 0, max(limit, 100)
        while len(found) < limit:
            ids = [str(cid) for cid in await self.redis.zrevrange(key, start, start + page - 1)]
            if not ids:
                break
            start += page
            raws = await self.redis.mget([record_key(cid) for cid in ids])
            for raw in raws:
                if raw is None:
                    continue
                record = orjson.loads(raw)
                if gid is not None and record["gid"] != gid:
                    continue
                if nid is not None and record["nid"] != nid:
                    continue
                if state is not None and public(record)["state"] != state:
                    continue
                found.append(record)
        return found[:limit]

    async def cancel(self, cid: str, by: str) -> dict[str, Any] | None:
        record = await self._load(cid)
        if record is None:
            return None
        if record["state"] == "QUEUED":
            removed = await self.redis.lrem(
                agent_key(record["gid"], record["nid"]), 1, orjson.dumps(wire(record)).decode()
            )
            record = await self._load(cid) or record
            if removed and record["state"] == "QUEUED":
                record |= {"state": "KILLED", "data": f"cancelled by {by} before it ran"}
                await self._save(record)
                return record | {"cancel": "cancelled"}
        if record["state"] == "RUNNING":
            kill = kill_record(record, by, self.ttl)
            await self.submit(kill)
            record |= {"kill": kill["id"], "cancel": "killing"}
        return record
