"""One colour per task status, component state and Lamia event class, the same on every page
and chart.

Server-rendered badges call :func:`colour`; the charts' script gets :data:`PALETTE` and applies
the same rule (explicit colour, else by status family, else a stable pick by name hash).
"""

from __future__ import annotations

from typing import Any

from watchkeeper.events.kinds import FAILED, FINISHED, UNSUCCESSFUL, WAITING

GREY, BLUE, GREEN, RED = "#94a3b8", "#2563eb", "#16a34a", "#dc2626"

#: Failed tasks share the family of aborted ones (how a chart orders its legend) but keep a
#: colour of their own, so a failure never reads as an abort.
FAILED_COLOUR = "#9f1239"
STATUS = {
    "submitted": "#60a5fa",
    "assigned": "#60a5fa",
    "running": BLUE,
    "started": BLUE,
    **dict.fromkeys(sorted(FAILED), FAILED_COLOUR),
}
STATE = {
    "idle": GREY,
    "await_path": "#f59e0b",
    "moving": BLUE,
    "running": BLUE,
    "busy": BLUE,
    "recover": "#ea580c",
    "error": RED,
    "offline": "#475569",
    # Not a state an agent reports: the timeline's gaps where it sent nothing for longer than
    # offline_after (see views/components.py).
    "no signal": "#cbd5e1",
}
LIVENESS = {"online": GREEN, "stale": "#f59e0b", "offline": "#64748b"}
#: Lamia's lifecycle event classes (matched without regard to case, as the API maps them to
#: statuses). The three "running" classes get three shades, so a grid of job slots tells a job
#: that only started from one that beats or reports progress.
EVENT_CLASS = {
    "SUBMITTED": STATUS["submitted"],
    "STARTED": BLUE,
    "BEAT": "#0ea5e9",
    "PROGRESS": "#6366f1",
    "DONE": GREEN,
    "FAILED": RED,
    "TERMINATED": "#f97316",
}

#: Intent resolutions of the live state, from nobody answered to data arriving.
RESOLUTION = {
    "no_answer": RED,
    "answered": "#f59e0b",
    "started_no_data": "#ea580c",
    "receiving": GREEN,
}
#: For names nobody planned for: picked by a stable hash of the name.
EXTRA = ["#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ca8a04", "#0d9488", "#9333ea", "#c2410c"]

PALETTE: dict[str, Any] = {
    "status": STATUS,
    "state": STATE,
    "liveness": LIVENESS,
    "event_class": EVENT_CLASS,
    "resolution": RESOLUTION,
    "waiting": sorted(WAITING),
    "finished": sorted(FINISHED),
    "aborted": sorted(UNSUCCESSFUL),
    "family": {"waiting": GREY, "running": BLUE, "finished": GREEN, "aborted": RED},
    "extra": EXTRA,
}


def name_hash(name: str) -> int:
    """A tiny string hash that the browser computes identically (see ``charts.js``)."""
    value = 0
    for char in name:
        value = (value * 31 + ord(char)) & 0xFFFFFFFF
    return value


def family(status: str) -> str:
    """waiting, running, finished or aborted (failed included): what a task status means for
    its colour and its place in a legend."""
    if status in WAITING:
        return "waiting"
    if status in FINISHED:
        return "finished"
    if status in UNSUCCESSFUL:
        return "aborted"
    return "running"


def colour(kind: str, name: str | None) -> str:
    """The colour of a task ``status``, a component ``state``, a ``liveness``, a Lamia event
    ``class`` or an intent ``resolution``; a state or class nobody planned for gets a stable
    colour picked from its name."""
    if not name:
        return GREY
    if kind == "class":
        return EVENT_CLASS.get(name.upper()) or EXTRA[name_hash(name) % len(EXTRA)]
    if kind == "status":
        return STATUS.get(name) or PALETTE["family"][family(name)]
    if kind == "liveness":
        return LIVENESS.get(name, GREY)
    if kind == "resolution":
        return RESOLUTION.get(name, GREY)
    return STATE.get(name) or EXTRA[name_hash(name) % len(EXTRA)]
