"""The command queue of a running server, and the event log entries of commands.

Every command sent and every result received is an event (``command.sent``,
``command.result``): who sent what to which agent, through which door, and the outcome.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
from fastapi import FastAPI, Request

from watchkeeper.config import Settings
from watchkeeper.events.decode import decode_events
from watchkeeper.store import db
from watchkeeper.store.cmdqueue import CommandQueue, SqlQueue

#: A command's or result's data is cut to this many characters in the event log.
AUDIT_DATA = 4096


def open_queue(app: FastAPI, settings: Settings) -> CommandQueue:
    async def audit(records: list[dict[str, Any]]) -> None:
        await write_events(app, [sent_event(record) for record in records])

    if settings.redis:
        from watchkeeper.store.cmdredis import RedisQueue  # the optional ``redis`` extra

        return RedisQueue(settings.redis, settings.command_ttl, settings.command_result_ttl, audit)
    engine = db.make_engine(settings.db, synchronous=settings.sqlite_synchronous)
    writes = None
    if engine.dialect.name == "sqlite":
        writes = db.make_engine(settings.db, writer=True, synchronous=settings.sqlite_synchronous)
    return SqlQueue(engine, settings.command_ttl, audit, writes)


def queue(request: Request) -> CommandQueue:
    found: CommandQueue = request.app.state.commands
    return found


def sender(request: Request) -> str:
    """Who sent a request: the role of its token and a digest that tells tokens apart."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token_sender(request, token.strip() if scheme.lower() == "bearer" else "")


def token_sender(request: Request, token: str) -> str:
    """``role:digest`` of ``token`` (``anonymous`` for none)."""
    if not token:
        return "anonymous"
    role = request.app.state.settings.tokens.get(token, "unknown")
    return f"{role}:{hashlib.sha256(token.encode()).hexdigest()[:8]}"


async def write_events(app: FastAPI, items: list[dict[str, Any]]) -> None:
    if items:
        events = decode_events(orjson.dumps(items), "application/json")
        await app.state.writer.write(events)


def _cut(value: Any) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= AUDIT_DATA else text[:AUDIT_DATA]


def sent_event(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "command.sent",
        "ts": record["submitted"],
        "level": "info",
        "source": record["sent_by"],
        "subject": f"command:{record['id']}",
        "id": record["id"],
        "agent": f"{record['gid']}.{record['nid']}",
        "cmd": record["cmd"],
        "args": record["args"],
        "data": _cut(record["input"]),
        "sent_by": record["sent_by"],
        "via": record["via"],
    }


def result_event(agent: str, result: dict[str, Any]) -> dict[str, Any]:
    state = str(result.get("state"))
    return {
        "kind": "command.result",
        "ts": time.time(),
        "level": "info" if state == "SUCCESS" else "error",
        "source": f"agent:{agent}",
        "subject": f"command:{result['id']}",
        "id": str(result["id"]),
        "agent": agent,
        "cmd": result.get("cmd"),
        "state": state,
        "result_level": result.get("level"),
        "data": _cut(result.get("data")),
        "starttime": result.get("starttime"),
        "time": result.get("time"),
    }


def cancel_event(record: dict[str, Any], by: str) -> dict[str, Any]:
    return {
        "kind": "command.cancel",
        "ts": time.time(),
        "level": "warning",
        "source": by,
        "subject": f"command:{record['id']}",
        "id": record["id"],
        "agent": f"{record['gid']}.{record['nid']}",
        "state": record["state"],
        "kill": record.get("kill"),
    }
