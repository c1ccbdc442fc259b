"""The agents' channel: ``/api/v1/agents/{gid}/{nid}/cmd|result|log|stats`` (role ``agent``).

The original controller's JSON shapes: an agent long-polls for its next command, posts the
result, its log messages (``[{domain, name, epoch, level, id, data}]``) and its statsd
series (``{"timestamp", "series": [[key, value]]}``). Messages and series become the same
``log.record`` and ``metric.series`` events the agent forwards itself.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route

from watchkeeper.agent.levels import event_level
from watchkeeper.api import cmdsetup
from watchkeeper.api.auth import require
from watchkeeper.api.errors import ANY_ROUTE, WITH_BODY, ApiError, responses
from watchkeeper.api.hotpath import hot_get, hot_post
from watchkeeper.api.params import Int64
from watchkeeper.api.responses import JSONResponse
from watchkeeper.store.cmdqueue import OUTCOMES, Finish, wire


async def _own_channel(request: Request, gid: Int64, nid: Int64) -> None:
    """An agent's own token opens its own channel only (async: FastAPI would call a plain
    function in a worker thread, on every request of the channel)."""
    bound = getattr(request.state, "bound_agent", None)
    if bound is not None and bound != (gid, nid):
        raise ApiError(403, f"this token belongs to agent {bound[0]}.{bound[1]}, not {gid}.{nid}")


router = APIRouter(
    prefix="/api/v1/agents/{gid}/{nid}",
    tags=["agent channel"],
    dependencies=[require("agent"), Depends(_own_channel)],
    responses=responses(*ANY_ROUTE, 422),
)

Node = Annotated[Int64, Path(ge=0)]
#: One post of messages or series at most (the agent sends batches of up to 1000).
MAX_ITEMS = 10_000


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    state: Literal[OUTCOMES]  # type: ignore[valid-type]
    cmd: str | None = None
    level: int | None = Field(default=None, ge=0, le=99)
    data: Any = None
    starttime: Int64 | None = None
    time: Int64 | None = None


class Message(BaseModel):
    domain: str = Field(default="", max_length=200)
    name: str = Field(default="", max_length=200)
    epoch: float = Field(allow_inf_nan=False, ge=0, le=1e11)
    level: int = Field(ge=0, le=99)
    id: Int64 = Field(ge=0)
    data: str = Field(default="", max_length=1 << 20)
    jobid: str | None = Field(default=None, max_length=200)


class Stats(BaseModel):
    timestamp: float = Field(allow_inf_nan=False, ge=0, le=1e11)
    series: list[tuple[Annotated[str, Field(max_length=500)], float]] = Field(max_length=MAX_ITEMS)


#: The agent's side of a command's round trip (take the next command, post its result),
#: answered ahead of FastAPI's per-request machinery; the log and series posts are not hot.
FAST_ROUTES: list[Route] = []


@hot_get(
    router,
    "/cmd",
    role="agent",
    into=FAST_ROUTES,
    checks=[_own_channel],
    responses={204: {"description": "No command within wait seconds"}},
    summary="The agent's next command (long poll)",
)
async def next_command(
    gid: Node,
    nid: Node,
    request: Request,
    wait: Annotated[float, Query(ge=0, le=300, allow_inf_nan=False)] = 30,
) -> Response:
    """The oldest queued command of agent ``gid.nid``, taken from its queue; ``204`` when
    none came within ``wait`` seconds."""
    wait = min(wait, request.app.state.settings.command_max_wait)
    record = await cmdsetup.queue(request).take(gid, nid, wait)
    if record is None:
        return Response(status_code=204)
    return JSONResponse(wire(record))


@hot_post(
    router,
    "/result",
    role="agent",
    into=FAST_ROUTES,
    checks=[_own_channel],
    response_model=dict[str, Any],
    responses=responses(404, *WITH_BODY),
    summary="The result of a command the agent ran",
)
async def post_result(gid: Node, nid: Node, body: ResultIn, request: Request) -> JSONResponse:
    """Stored once: a result posted again (a retry) is acknowledged and ignored."""
    result = body.model_dump()
    done = await cmdsetup.queue(request).finish(gid, nid, result)
    if done == Finish.UNKNOWN:
        raise ApiError(404, f"command {body.id!r} not found (or its record expired)")
    if done == Finish.FOREIGN:
        raise ApiError(403, f"command {body.id!r} was not sent to agent {gid}.{nid}")
    if done == Finish.STORED:
        await cmdsetup.write_events(request.app, [cmdsetup.result_event(f"{gid}.{nid}", result)])
    return JSONResponse({"stored": done == Finish.STORED})


@router.post("/log", status_code=202, responses=responses(*WITH_BODY), summary="Log messages")
async def post_log(
    gid: Node,
    nid: Node,
    body: Annotated[list[Message], Field(max_length=MAX_ITEMS)],
    request: Request,
) -> dict[str, int]:
    agent = f"{gid}.{nid}"
    events = [_log_event(agent, message) for message in body]
    await cmdsetup.write_events(request.app, events)
    return {"accepted": len(events)}


@router.post("/stats", status_code=202, responses=responses(*WITH_BODY), summary="Statsd series")
async def post_stats(gid: Node, nid: Node, body: Stats, request: Request) -> dict[str, int]:
    agent = f"{gid}.{nid}"
    event: dict[str, Any] = {
        "kind": "metric.series",
        "ts": body.timestamp or time.time(),
        "agent": agent,
        "series": [[key, value] for key, value in body.series],
    }
    # The original's keys are ``<gid>.<nid>.<domain>.<name>.<key>``: name the program when
    # every key of the post agrees on it.
    programs = {tuple(key.split(".")[2:4]) for key, _ in body.series if key.count(".") >= 4}
    if len(programs) == 1 and all(key.count(".") >= 4 for key, _ in body.series):
        event["domain"], event["name"] = programs.pop()
    if body.series:
        await cmdsetup.write_events(request.app, [event])
    return {"accepted": len(body.series)}


def _log_event(agent: str, message: Message) -> dict[str, Any]:
    event: dict[str, Any] = {
        "kind": "log.record",
        "ts": message.epoch,
        "level": event_level(message.level),
        "source": f"agent:{agent}",
        "event_id": f"agentlog:{agent}:{message.id}",
        "agent": agent,
        "domain": message.domain,
        "name": message.name,
        "epoch": message.epoch,
        "id": message.id,
        "log_level": message.level,
        "data": message.data,
    }
    if message.jobid:
        event["job"] = message.jobid
        event["subject"] = f"task:{message.jobid}"
    return event
