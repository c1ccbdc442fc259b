"""Commands: those sent to the agents, newest first, with their results, and a form to send one
(admins only). The form posts with the login cookie and the anti-forgery token of ``ui.csrf``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from watchkeeper.api import cmdsetup
from watchkeeper.api.commands import CommandIn, enqueue
from watchkeeper.api.params import Int64
from watchkeeper.store.cmdqueue import public
from watchkeeper.ui.access import admin_page_access
from watchkeeper.ui.csrf import admin_form_access, cookie_sender, form_token
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.render import render

NAV = (NavEntry("commands", "Commands", "/commands", order=90, windowed=False),)
pages = APIRouter(dependencies=[Depends(admin_page_access)])
sends = APIRouter(dependencies=[Depends(admin_form_access)])

PAGE = 200
#: The agent's built-in commands, offered by the form (any other name may be typed in).
KNOWN = (
    "ping",
    "execute",
    "get_cpu_info",
    "get_mem_info",
    "get_disk_info",
    "get_nic_info",
    "get_os_info",
    "get_processes_stats",
    "get_process_stats",
    "get_msgs",
    "del_msgs",
    "kill",
    "killall",
    "restart",
)


@pages.get("/commands")
async def command_list(
    request: Request,
    gid: Annotated[Int64 | None, Query(ge=0)] = None,
    nid: Annotated[Int64 | None, Query(ge=0)] = None,
) -> Response:
    found = await cmdsetup.queue(request).history(gid, nid, None, PAGE)
    return render(
        request,
        "commands.html",
        active="commands",
        title="Commands",
        commands=[public(record) for record in found],
        gid="" if gid is None else gid,
        nid="" if nid is None else nid,
        known=KNOWN,
        csrf=form_token(request),
    )


@sends.post("/commands/send", status_code=202)
async def send(body: CommandIn, request: Request) -> dict[str, str]:
    """The form's send: as ``POST /api/v1/commands``, recorded as sent ``via`` the dashboard."""
    return await enqueue(request, body, by=cookie_sender(request), via="dashboard")


router = APIRouter()
router.include_router(pages, include_in_schema=False)
router.include_router(sends, include_in_schema=False)
