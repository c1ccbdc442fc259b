"""Commands: those sent to the agents, newest first, with their results (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from watchkeeper.api import cmdsetup
from watchkeeper.api.params import Int64
from watchkeeper.store.cmdqueue import public
from watchkeeper.ui.access import admin_page_access
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.render import render

NAV = (NavEntry("commands", "Commands", "/commands", order=90, windowed=False),)
router = APIRouter(include_in_schema=False, dependencies=[Depends(admin_page_access)])

PAGE = 200


@router.get("/commands")
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
    )
