"""Run an in-process agent against real subprocesses and read what it queued for the server."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from watchkeeper.agent import config
from watchkeeper.agent.journal import Journal
from watchkeeper.agent.runner import Agent

PY = sys.executable
#: Nothing listens here: the events stay in the journal, where the tests read them.
NOWHERE = "http://127.0.0.1:9"


def make_agent(tmp_path: Path, programs: dict[str, dict[str, Any]], **agent: Any) -> Agent:
    table = {"heartbeat_interval": 60, "shutdown_timeout": 0.1, **agent}
    settings = config.resolve(
        {"agent": table},
        {"gid": "1", "nid": "7", "data_dir": str(tmp_path / "data"), "server": NOWHERE},
        env={},
    )
    return Agent(settings, config.programs({"programs": programs}))


def events(agent: Agent, kind: str | None = None) -> list[dict[str, Any]]:
    """Every event the agent has made durable and not yet forwarded, in order."""
    journal = Journal(Path(agent.settings.data_dir) / "journal.db")
    try:
        rows = journal.pending(10**7, 1 << 40)
    finally:
        journal.close()
    found = [orjson.loads(body) for _, body in rows]
    return [e for e in found if kind is None or e["kind"] == kind]


def runs(agent: Agent, program: str = "p") -> dict[str, list[dict[str, Any]]]:
    """Task status events per run of ``program``, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events(agent, "task.status"):
        if f"/{program}/" in event["task"]:
            out.setdefault(event["task"], []).append(event)
    return out


def finished(agent: Agent, program: str = "p") -> list[dict[str, Any]]:
    """The final status event of each ended run of ``program``."""
    return [h[-1] for h in runs(agent, program).values() if h[-1]["status"] != "running"]


async def run_until(
    agent: Agent, done: Callable[[], bool], timeout: float = 20.0
) -> asyncio.Task[None]:
    """Run ``agent`` until ``done()`` holds (checked on its durable events), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    deadline = time.monotonic() + timeout
    try:
        while not done():
            if task.done():
                task.result()
                raise AssertionError("the agent stopped by itself")
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    return task


def program_states(agent: Agent, component: str = "1.7/default/p") -> list[dict[str, Any]]:
    return [
        e
        for e in events(agent, "component.state")
        if e["type"] == "program" and e["id"] == component
    ]
