"""Job groups: Lamia tasks with their progress, and one group's processes, job slots (a grid
coloured by each job's last event class) and progress history (seed 003).

Both pages are live: their script re-fetches the parts that change from ``/partials/groups...``
when an event of a Lamia kind arrives, and swaps them in (see ``groups.js``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import Depends, Query, Request
from starlette.responses import Response

from watchkeeper.api import lamia_wire as wire
from watchkeeper.api.deps import group_staleness, read_conn
from watchkeeper.api.params import Int64
from watchkeeper.events.lamia import job_id
from watchkeeper.ui import palette
from watchkeeper.ui.nav import NavEntry
from watchkeeper.ui.pages.common import page_router
from watchkeeper.ui.render import PageError, render, url_with, when
from watchkeeper.views import groups

NAV = (NavEntry("groups", "Job groups", "/groups", order=70, windowed=False),)
router = page_router()

#: Groups per page of the list.
PAGE = 50
#: Cells of an array's grid on one page: 50 rows of 20 at most, what a screen takes in.
GRID = 1000
#: Processes listed under a group in the list before "+ n more".
PROCESSES_SHOWN = 12
#: Latest events on a group's page.
LATEST = 20
#: Characters of a group's config shown before "more".
CONFIG_SHOWN = 160


# --- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListFilter:
    """The list's filters, as the URL has them: ``tag`` repeated or comma-separated (a group
    must have every one), ``user``, ``q`` (a substring of the name) and ``offset``."""

    tags: tuple[str, ...]
    user: str
    q: str
    offset: int

    def link(self, request: Request, **changes: Any) -> str:
        """This list with some filters changed; the tags always travel as one ``tag``."""
        params: dict[str, Any] = {"tag": ",".join(self.tags) or None, "offset": None}
        params.update(changes)
        return url_with(request, "/groups", **params)

    def with_tag(self, request: Request, tag: str) -> str:
        tags = self.tags if tag in self.tags else (*self.tags, tag)
        return self.link(request, tag=",".join(tags))

    def without_tag(self, request: Request, tag: str) -> str:
        return self.link(request, tag=",".join(t for t in self.tags if t != tag) or None)


def _list_filter(
    tag: Annotated[list[str] | None, Query()] = None,
    user: str | None = None,
    q: str | None = None,
    offset: Annotated[Int64, Query(ge=0)] = 0,
) -> ListFilter:
    """The list's filters from the query string (a dependency shared by page and partial)."""
    tags = tuple(dict.fromkeys(t.strip() for value in tag or [] for t in value.split(",")))
    return ListFilter(tuple(t for t in tags if t), (user or "").strip(), (q or "").strip(), offset)


def _list_context(request: Request, conn: sa.Connection, f: ListFilter) -> dict[str, Any]:
    items, total = groups.list_groups(
        conn,
        tags=f.tags,
        user=f.user or None,
        search=f.q or None,
        offset=f.offset,
        limit=PAGE,
        with_processes=True,
        **group_staleness(request),
    )
    for item in items:
        item["jobs"] = sum(p["n_jobs"] or 1 for p in item["processes"])
    return {
        "groups": items,
        "total": total,
        "filters": f,
        "page_size": PAGE,
        "processes_shown": PROCESSES_SHOWN,
    }


@router.get("/groups")
def group_list(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    f: Annotated[ListFilter, Depends(_list_filter)],
) -> Response:
    return render(
        request,
        "groups.html",
        active="groups",
        title="Job groups",
        **_list_context(request, conn, f),
    )


@router.get("/partials/groups")
def group_list_part(
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    f: Annotated[ListFilter, Depends(_list_filter)],
) -> Response:
    """The table alone, re-fetched by the list as events arrive."""
    context = _list_context(request, conn, f)
    return render(request, "_groups_live.html", active="groups", title="", **context)


# --- one group ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One job of a process: its index (``None`` for a solitary job) and its slot, ``None``
    while the job has sent nothing."""

    task: str
    proc: str
    index: int | None
    slot: dict[str, Any] | None

    @property
    def event_class(self) -> str | None:
        return self.slot["last_event_class"] if self.slot else None

    @property
    def colour(self) -> str:
        return palette.colour("class", self.event_class)

    @property
    def tooltip(self) -> str:
        name = job_id(self.task, self.proc, self.index)
        s = self.slot
        if s is None:
            return f"{name}\nno event yet"
        value = "—" if s["value"] is None else s["value"]
        lines = [
            name,
            f"class {s['last_event_class']} · progress {value} · host {s['host'] or '—'}",
            f"last event {when(s['last_event_at'])} UTC · {s['events']} "
            + ("event" if s["events"] == 1 else "events"),
        ]
        if s["stale"]:
            lines.append("stale: running, but silent for too long")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Grid:
    """The cells of a process on this page, and where the page lies in the array.

    An array of ``n`` jobs has ``n`` cells, indexed 0 to n-1, or 1 to n once a job reported
    index ``n`` and none reported 0 (Lamia accepts both numberings: HTCondor's ``$(Process)``
    and Slurm's ``--array=1-N``); an index reported outside that range gets a cell too, so
    every slot the API reports is drawn."""

    cells: list[Cell]
    low: int
    high: int
    start: int

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    @property
    def previous(self) -> int | None:
        return max(self.low, self.start - GRID) if self.start > self.low else None

    @property
    def next(self) -> int | None:
        end = self.start + len(self.cells)
        return end if end <= self.high else None


def index_range(n_jobs: int, first: int | None, last: int | None) -> tuple[int, int]:
    """The lowest and highest index of an array's grid (see :class:`Grid`)."""
    base = 1 if last == n_jobs and (first is None or first >= 1) else 0
    low = base if first is None else min(base, first)
    high = base + n_jobs - 1 if last is None else max(base + n_jobs - 1, last)
    return low, high


def grid_of(task: str, proc: dict[str, Any], start: int | None) -> Grid:
    """The grid of one process; ``start`` is the first index wanted (an array's page)."""
    name = proc["name"]
    if proc["n_jobs"] is None:
        slot = proc["slots"][0] if proc["slots"] else None
        return Grid([Cell(task, name, None, slot)], 0, 0, 0)
    low, high = index_range(proc["n_jobs"], proc["first_index"], proc["last_index"])
    first = low if start is None else max(low, start)
    if first > high:
        first = max(low, high - GRID + 1)  # past the end: the last page
    by_index = {s["index"]: s for s in proc["slots"]}
    indices = range(first, min(high, first + GRID - 1) + 1)
    return Grid([Cell(task, name, i, by_index.get(i)) for i in indices], low, high, first)


def _text(value: Any) -> str:
    """A config or payload as text: a string as it is, anything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _legend(grids: dict[str, Grid], events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Lamia's lifecycle classes, then any other class the page shows, with their colours."""
    known = list(palette.EVENT_CLASS)
    shown = {c.event_class for g in grids.values() for c in g.cells if c.event_class}
    shown.update(e["eventClass"] for e in events)
    others = sorted(c for c in shown if c.upper() not in palette.EVENT_CLASS)
    return [(name, palette.colour("class", name)) for name in known + others]


def _group(
    request: Request, conn: sa.Connection, name: str, proc: str | None, first: int | None
) -> dict[str, Any]:
    """The group with one page of each array's slots, the asked-for page of ``proc``. A page
    is read from one index early, so that it covers 1-based arrays whatever the numbering."""
    wanted = {proc: max(0, first - 1)} if proc is not None and first is not None else {}
    group = groups.get_group(
        conn, name, slot_limit=GRID + 1, slot_from=wanted, **group_staleness(request)
    )
    if group is None:
        raise PageError(404, f"group {name!r} not found")
    return group


def _process(group: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in group["processes"] if p["name"] == name)


def _group_context(
    request: Request, conn: sa.Connection, name: str, proc: str | None, first: int | None
) -> dict[str, Any]:
    group = _group(request, conn, name, proc, first)
    grids = {
        p["name"]: grid_of(name, p, first if p["name"] == proc else None)
        for p in group["processes"]
    }
    paged = grids.get(proc or "")
    if paged is not None and first is not None and paged.start < first - 1:
        # Asked past the end of the array: show its last page, read from there.
        group = _group(request, conn, name, proc, paged.start)
        grids[proc] = grid_of(name, _process(group, proc), paged.start)
    events = [wire.event_v0(row) for row in groups.latest_events(conn, name, limit=LATEST)]
    for event in events:
        event["payload_text"] = _text(event["payload"])
    config = _text(group["config"])
    return {
        "group": group,
        "jobs": sum(p["n_jobs"] or 1 for p in group["processes"]),
        "grids": grids,
        "legend": _legend(grids, events),
        "events": events,
        "config": config,
        "config_short": config[:CONFIG_SHOWN],
        "history": {
            "name": name,
            "processes": [{"name": p["name"], "history": p["history"]} for p in group["processes"]],
        },
    }


Proc = Annotated[str | None, Query(description="the process whose grid is paged")]
First = Annotated[Int64 | None, Query(ge=0, description="the first array index of its grid")]


@router.get("/groups/{name}")
def group_page(
    name: str,
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    proc: Proc = None,
    first: First = None,
) -> Response:
    context = _group_context(request, conn, name, proc, first)
    return render(request, "group.html", active="groups", title=f"Group {name}", **context)


@router.get("/partials/groups/{name}")
def group_part(
    name: str,
    request: Request,
    conn: Annotated[sa.Connection, Depends(read_conn)],
    proc: Proc = None,
    first: First = None,
) -> Response:
    """The parts of a group's page that events change, re-fetched by the page."""
    context = _group_context(request, conn, name, proc, first)
    return render(request, "_group_live.html", active="groups", title="", **context)
