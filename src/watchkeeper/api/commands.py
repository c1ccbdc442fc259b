"""``/api/v1/commands``: send a command to an agent, wait for its result, list, cancel.

Commands run code on the agents, so every route needs the ``admin`` role.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route

from watchkeeper.api import cmdsetup
from watchkeeper.api.auth import require
from watchkeeper.api.errors import ANY_ROUTE, ApiError, responses
from watchkeeper.api.hotpath import hot_get, hot_post
from watchkeeper.api.params import Int64
from watchkeeper.api.responses import JSONResponse
from watchkeeper.events.fields import MAX_INT
from watchkeeper.store.cmdqueue import STATES, Duplicate, Full, make_record, public

router = APIRouter(
    prefix="/api/v1/commands",
    tags=["commands"],
    dependencies=[require("admin")],
    responses=responses(*ANY_ROUTE, 422),
)

#: Ids are path segments and Redis key suffixes: no slash, no space.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
CMD_PATTERN = r"^[a-z][a-z0-9_]{0,99}$"
#: The most a command's ``data`` (given to the program's stdin) may hold.
MAX_DATA = 1 << 20

CommandId = Annotated[str, Path(pattern=ID_PATTERN)]
NodeId = Annotated[Int64, Query(ge=0)]
State = Literal[STATES]  # type: ignore[valid-type]


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gid: int = Field(ge=0, le=MAX_INT, description="grid id of the agent")
    nid: int = Field(ge=0, le=MAX_INT, description="node id of the agent")
    cmd: str = Field(pattern=CMD_PATTERN, description="execute, ping, get_cpu_info, ...")
    args: dict[str, Any] = Field(default_factory=dict, description="the run options")
    data: str | None = Field(default=None, max_length=MAX_DATA, description="stdin")
    id: str | None = Field(default=None, pattern=ID_PATTERN, description="a new unique id")


class Submitted(BaseModel):
    id: str


#: The round trip of a command (submit, wait for its result), answered ahead of FastAPI's
#: per-request machinery as the agent's side of it is (:mod:`watchkeeper.api.agent_channel`).
FAST_ROUTES: list[Route] = []


@hot_post(
    router,
    "",
    role="admin",
    into=FAST_ROUTES,
    status_code=202,
    response_model=Submitted,
    responses=responses(409, 429, 503),
    summary="Send a command to an agent",
)
async def submit(body: CommandIn, request: Request) -> JSONResponse:
    """Queue the command for its agent (in order, per agent) and answer its id at once.

    The agent takes it when it next asks; it expires (state ``EXPIRED``) if the agent does not
    ask within the server's ``command_ttl``."""
    answer = await enqueue(request, body, by=cmdsetup.sender(request), via="api")
    return JSONResponse(answer, status_code=202)


async def enqueue(request: Request, body: CommandIn, *, by: str, via: str) -> dict[str, str]:
    """Queue a command and record that it was sent (the API's and the dashboard's send)."""
    settings = request.app.state.settings
    record = make_record(body.model_dump(), by=by, via=via, ttl=settings.command_ttl)
    try:
        await cmdsetup.queue(request).submit(record, settings.command_max_queued)
    except Full as full:
        agent = f"{record['gid']}.{record['nid']}"
        raise ApiError(429, f"agent {agent} has {full.waiting} commands waiting already") from None
    except Duplicate:
        raise ApiError(409, f"command {record['id']!r} exists already") from None
    await cmdsetup.write_events(request.app, [cmdsetup.sent_event(record)])
    return {"id": record["id"]}


def _wait(request: Request, wait: float) -> float:
    return min(wait, request.app.state.settings.command_max_wait)


@hot_get(
    router,
    "/{cid}",
    role="admin",
    into=FAST_ROUTES,
    response_model=dict[str, Any],
    responses=responses(404),
    summary="One command and its result",
)
async def get_command(
    cid: CommandId,
    request: Request,
    wait: Annotated[
        float, Query(ge=0, le=300, allow_inf_nan=False, description="seconds to wait for it")
    ] = 0,
) -> JSONResponse:
    """The command's record; with ``wait``, answered as soon as it has its outcome (or after
    ``wait`` seconds, still ``QUEUED`` or ``RUNNING``)."""
    record = await cmdsetup.queue(request).get(cid, _wait(request, wait))
    if record is None:
        raise ApiError(404, f"command {cid!r} not found")
    return JSONResponse(public(record))


@router.get("", summary="Commands sent, newest first")
async def list_commands(
    request: Request,
    gid: NodeId | None = None,
    nid: NodeId | None = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    found = await cmdsetup.queue(request).history(gid, nid, state, limit)
    return {"commands": [public(record) for record in found]}


@router.delete(
    "/{cid}", responses=responses(404, 409), summary="Cancel a queued command or kill a run"
)
async def cancel(cid: CommandId, request: Request) -> JSONResponse:
    """A queued command is cancelled (``KILLED``, it never runs); for a running one a ``kill``
    goes to the head of its agent's queue (its id is ``kill``) and the run ends ``KILLED``."""
    by = cmdsetup.sender(request)
    record = await cmdsetup.queue(request).cancel(cid, by)
    if record is None:
        raise ApiError(404, f"command {cid!r} not found")
    if "cancel" not in record:
        raise ApiError(409, f"command {cid!r} has ended already ({record['state']})")
    await cmdsetup.write_events(request.app, [cmdsetup.cancel_event(record, by)])
    return JSONResponse(public(record))
