"""The command queue: commands for agents, delivered in order per agent, and their results.

A command is ``{"id", "gid", "nid", "cmd", "args", "data"}``; its record adds the outcome
(``state``, ``level``, ``data``, ``starttime``, ``time`` in ms) and who sent it. States:
``QUEUED`` (waiting for its agent), ``RUNNING`` (handed to it), then one of ``SUCCESS``,
``ERROR``, ``TIMEOUT``, ``KILLED`` (the agent's outcomes) or ``EXPIRED`` (its agent did not
ask for it within the command's time to live). :class:`SqlQueue` keeps them in the server's
database; ``cmdredis.RedisQueue`` in Redis, where several servers share them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from watchkeeper.store.tables import BigKey, Time, metadata

PENDING = ("QUEUED", "RUNNING")
OUTCOMES = ("SUCCESS", "ERROR", "TIMEOUT", "KILLED")
FINAL = (*OUTCOMES, "EXPIRED")
STATES = (*PENDING, *FINAL)
#: How often a waiter looks again when nothing woke it: another process (a second server on
#: the same database) may have changed the queue.
RECHECK = 0.5

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("seq", BigKey, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(200), nullable=False),
    sa.Column("gid", sa.BigInteger, nullable=False),
    sa.Column("nid", sa.BigInteger, nullable=False),
    sa.Column("cmd", sa.String(100), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("input", sa.Text, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("level", sa.Integer, nullable=True),
    sa.Column("data", sa.Text, nullable=True),
    sa.Column("starttime", sa.BigInteger, nullable=True),
    sa.Column("time", sa.BigInteger, nullable=True),
    sa.Column("submitted", Time, nullable=False),
    sa.Column("expires", Time, nullable=False),
    sa.Column("sent_by", sa.String(100), nullable=False),
    sa.Column("via", sa.String(20), nullable=False),
    sa.Index("ix_commands_id", "id", unique=True),
    sa.Index("ix_commands_agent", "gid", "nid", "state", "seq"),
    sa.Index("ix_commands_state_expires", "state", "expires"),
)

#: Reports commands the queue took in by itself (from the original client) for the event log.
Audit = Callable[[list[dict[str, Any]]], Awaitable[None]]


class Duplicate(Exception):
    """A command with this id was already submitted."""


class Full(Exception):
    """The agent has as many commands waiting as it may."""

    def __init__(self, waiting: int) -> None:
        super().__init__(waiting)
        self.waiting = waiting


class Finish:
    """What became of a posted result."""

    UNKNOWN = "unknown"  # no such command
    FOREIGN = "foreign"  # the command was sent to another agent
    DONE = "done"  # it already has its outcome (a result posted twice)
    STORED = "stored"


def new_id() -> str:
    return str(uuid.uuid4())


def wire(record: dict[str, Any]) -> dict[str, Any]:
    """The command as an agent receives it (the original's JSON)."""
    return {k: record[k] for k in ("id", "gid", "nid", "cmd", "args")} | {"data": record["input"]}


def make_record(
    command: dict[str, Any], *, by: str, via: str, ttl: float, priority: int = 0
) -> dict[str, Any]:
    now = time.time()
    return {
        "id": command.get("id") or new_id(),
        "gid": int(command["gid"]),
        "nid": int(command["nid"]),
        "cmd": command["cmd"],
        "args": command.get("args") or {},
        "input": command.get("data"),
        "priority": priority,
        "state": "QUEUED",
        "level": None,
        "data": None,
        "starttime": None,
        "time": None,
        "submitted": now,
        "expires": now + ttl,
        "sent_by": by,
        "via": via,
    }


def expired_reason(record: dict[str, Any]) -> str:
    waited = record["expires"] - record["submitted"]
    return f"agent {record['gid']}.{record['nid']} did not ask for it within {waited:g} s"


class Notifier:
    """Wakes this process's waiters on one key (an agent's queue, a command's result).

    Keyed, so that a change wakes only who waits for it: with every agent long-polling and
    every caller waiting for its own result, a wake-all would have each of them query the
    database again at every submit and every result."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, tuple[asyncio.Event, int]] = {}
        self.closing = False

    def close(self) -> None:
        """The server is stopping: every wait ends now, with what it has."""
        self.closing = True
        for event, _ in self._waiting.values():
            event.set()
        self._waiting.clear()

    def notify(self, key: Hashable) -> None:
        found = self._waiting.pop(key, None)
        if found is not None:
            found[0].set()

    async def poll(
        self,
        key: Hashable,
        look: Callable[[], Awaitable[Any]],
        wait: float,
        recheck: float = RECHECK,
    ) -> Any:
        """``look()`` until it finds something or ``wait`` seconds passed."""
        deadline = time.monotonic() + wait
        while True:
            changed = self._enter(key)  # taken before looking, so no change is missed
            try:
                found = await look()
                left = deadline - time.monotonic()
                if found is not None or left <= 0 or self.closing:
                    return found
                waiter = asyncio.ensure_future(changed.wait())
                try:
                    await asyncio.wait({waiter}, timeout=min(recheck, left))
                finally:
                    waiter.cancel()
            finally:
                self._leave(key, changed)

    def _enter(self, key: Hashable) -> asyncio.Event:
        event, count = self._waiting.get(key) or (asyncio.Event(), 0)
        self._waiting[key] = (event, count + 1)
        return event

    def _leave(self, key: Hashable, event: asyncio.Event) -> None:
        found = self._waiting.get(key)
        if found is None or found[0] is not event:
            return  # notified meanwhile: the entry is gone already
        if found[1] <= 1:
            del self._waiting[key]
        else:
            self._waiting[key] = (event, found[1] - 1)


def agent_key(gid: int, nid: int) -> tuple[str, int, int]:
    return ("agent", gid, nid)


def command_key(cid: str) -> tuple[str, str]:
    return ("command", cid)


class CommandQueue(Protocol):
    async def submit(
        self, record: dict[str, Any], max_queued: int | None = None
    ) -> dict[str, Any]: ...

    async def take(self, gid: int, nid: int, wait: float) -> dict[str, Any] | None: ...

    async def queued(self, gid: int, nid: int) -> int: ...

    async def finish(self, gid: int, nid: int, result: dict[str, Any]) -> str: ...

    async def get(self, cid: str, wait: float = 0) -> dict[str, Any] | None: ...

    async def history(
        self, gid: int | None, nid: int | None, state: str | None, limit: int
    ) -> list[dict[str, Any]]: ...

    async def cancel(self, cid: str, by: str) -> dict[str, Any] | None: ...

    def stop_waiting(self) -> None:
        """The server is stopping: long polls answer now (no command, the record as it is)
        instead of holding the shutdown for as long as they were to wait."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


#: The fields of a record a posted result sets (:func:`outcome`).
OUTCOME = ("state", "level", "data", "starttime", "time")


def outcome(result: dict[str, Any]) -> dict[str, Any]:
    """The fields of a posted result the record keeps."""
    data = result.get("data")
    return {
        "state": result["state"],
        "level": result.get("level"),
        "data": data if data is None or isinstance(data, str) else orjson.dumps(data).decode(),
        "starttime": result.get("starttime"),
        "time": result.get("time"),
    }


def kill_record(record: dict[str, Any], by: str, ttl: float) -> dict[str, Any]:
    """The ``kill`` command that stops ``record``'s run, ahead of the agent's queue."""
    command = {"gid": record["gid"], "nid": record["nid"], "cmd": "kill", "args": {}}
    command["data"] = orjson.dumps({"id": record["id"]}).decode()
    return make_record(command, by=by, via="cancel", ttl=ttl, priority=1)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the API shows it."""
    out = {k: v for k, v in record.items() if k not in ("priority", "seq")}
    if out["state"] == "QUEUED" and out["expires"] < time.time():
        out["state"], out["data"] = "EXPIRED", expired_reason(record)
    return out


class SqlQueue:
    """The queue in the server's database (SQLite or PostgreSQL).

    ``engine`` reads; ``write_engine`` changes (on SQLite its transactions begin IMMEDIATE:
    a transaction that reads, then writes, could not wait for the event writer's lock)."""

    def __init__(
        self,
        engine: sa.Engine,
        ttl: float,
        audit: Audit | None = None,
        write_engine: sa.Engine | None = None,
    ) -> None:
        self.engine = engine
        self.write_engine = write_engine or engine
        self.ttl = ttl
        self.audit = audit
        self.notifier = Notifier()

    def stop_waiting(self) -> None:
        self.notifier.close()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.engine.dispose()
        self.write_engine.dispose()

    def _insert(self, record: dict[str, Any], max_queued: int | None) -> None:
        c = commands.c
        row = record | {"args": orjson.dumps(record["args"]).decode()}
        with self.write_engine.begin() as conn:
            if max_queued is not None:  # counted in the same transaction: no race past it
                waiting = conn.execute(
                    sa.select(sa.func.count()).where(
                        c.gid == row["gid"], c.nid == row["nid"], c.state == "QUEUED"
                    )
                ).scalar_one()
                if waiting >= max_queued:
                    raise Full(int(waiting))
            if conn.execute(sa.select(c.seq).where(c.id == row["id"])).first():
                raise Duplicate(row["id"])
            conn.execute(commands.insert().values(**row))

    async def submit(self, record: dict[str, Any], max_queued: int | None = None) -> dict[str, Any]:
        await asyncio.to_thread(self._insert, record, max_queued)
        self.notifier.notify(agent_key(record["gid"], record["nid"]))
        return record

    def _queued(self, gid: int, nid: int) -> int:
        c = commands.c
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(
                c.gid == gid, c.nid == nid, c.state == "QUEUED"
            )
            return int(conn.execute(query).scalar_one())

    async def queued(self, gid: int, nid: int) -> int:
        return await asyncio.to_thread(self._queued, gid, nid)

    def _take(self, gid: int, nid: int) -> dict[str, Any] | None:
        c = commands.c
        now = time.time()
        with self.engine.connect() as conn:  # polls mostly find nothing: no write lock for them
            waiting = conn.execute(
                sa.select(c.seq).where(c.gid == gid, c.nid == nid, c.state == "QUEUED").limit(1)
            ).first()
        if waiting is None:
            return None
        with self.write_engine.begin() as conn:
            conn.execute(
                commands.update()
                .where(c.gid == gid, c.nid == nid, c.state == "QUEUED", c.expires < now)
                .values(state="EXPIRED", data=f"agent {gid}.{nid} did not ask for it in time")
            )
            while True:
                row = conn.execute(
                    sa.select(commands)
                    .where(c.gid == gid, c.nid == nid, c.state == "QUEUED")
                    .order_by(c.priority.desc(), c.seq)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                claimed = conn.execute(
                    commands.update()
                    .where(c.seq == row.seq, c.state == "QUEUED")
                    .values(state="RUNNING")
                )
                if claimed.rowcount == 1:
                    return _record(row._asdict()) | {"state": "RUNNING"}

    async def take(self, gid: int, nid: int, wait: float) -> dict[str, Any] | None:
        async def look() -> dict[str, Any] | None:
            return await asyncio.to_thread(self._take, gid, nid)

        found: dict[str, Any] | None = await self.notifier.poll(agent_key(gid, nid), look, wait)
        return found

    def _finish(self, gid: int, nid: int, result: dict[str, Any]) -> str:
        c = commands.c
        with self.write_engine.begin() as conn:
            row = conn.execute(
                sa.select(c.gid, c.nid, c.state).where(c.id == str(result["id"]))
            ).first()
            if row is None:
                return Finish.UNKNOWN
            if (row.gid, row.nid) != (gid, nid):
                return Finish.FOREIGN
            if row.state in FINAL:
                return Finish.DONE
            conn.execute(
                commands.update().where(c.id == str(result["id"])).values(**outcome(result))
            )
        return Finish.STORED

    async def finish(self, gid: int, nid: int, result: dict[str, Any]) -> str:
        done = await asyncio.to_thread(self._finish, gid, nid, result)
        if done == Finish.STORED:
            self.notifier.notify(command_key(str(result["id"])))
        return done

    def _get(self, cid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(commands).where(commands.c.id == cid)).first()
        return None if row is None else _record(row._asdict())

    async def get(self, cid: str, wait: float = 0) -> dict[str, Any] | None:
        async def look() -> dict[str, Any] | None:
            record = await asyncio.to_thread(self._get, cid)
            if record is None or public(record)["state"] in FINAL:
                return {"found": record}
            return None

        found = await self.notifier.poll(command_key(cid), look, wait)
        return found["found"] if found is not None else await asyncio.to_thread(self._get, cid)

    def _history(
        self, gid: int | None, nid: int | None, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        c = commands.c
        query = sa.select(commands).order_by(c.seq.desc()).limit(limit)
        if gid is not None:
            query = query.where(c.gid == gid)
        if nid is not None:
            query = query.where(c.nid == nid)
        if state is not None:
            query = query.where(c.state == state)
        with self.engine.connect() as conn:
            return [_record(row._asdict()) for row in conn.execute(query)]

    async def history(
        self, gid: int | None, nid: int | None, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._history, gid, nid, state, limit)

    def _cancel(self, cid: str, by: str) -> dict[str, Any] | None:
        c = commands.c
        with self.write_engine.begin() as conn:
            row = conn.execute(sa.select(commands).where(c.id == cid)).first()
            if row is None:
                return None
            record = _record(row._asdict())
            if record["state"] == "QUEUED":
                reason = f"cancelled by {by} before it ran"
                done = conn.execute(
                    commands.update()
                    .where(c.id == cid, c.state == "QUEUED")
                    .values(state="KILLED", data=reason)
                )
                if done.rowcount == 1:
                    return record | {"state": "KILLED", "data": reason, "cancel": "cancelled"}
                record = _record(
                    conn.execute(sa.select(commands).where(c.id == cid)).one()._asdict()
                )
            if record["state"] == "RUNNING":
                kill = kill_record(record, by, self.ttl)
                conn.execute(
                    commands.insert().values(
                        **(kill | {"args": orjson.dumps(kill["args"]).decode()})
                    )
                )
                record |= {"kill": kill["id"], "cancel": "killing"}
            return record

    async def cancel(self, cid: str, by: str) -> dict[str, Any] | None:
        record = await asyncio.to_thread(self._cancel, cid, by)
        if record is not None:
            self.notifier.notify(command_key(cid))
            self.notifier.notify(agent_key(record["gid"], record["nid"]))
        return record


def _record(row: dict[str, Any]) -> dict[str, Any]:
    # Column names are ``quoted_name``s, which orjson refuses as keys.
    record = {str(key): value for key, value in row.items()}
    record["args"] = orjson.loads(record["args"])
    return record
