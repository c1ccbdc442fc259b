"""The agent's command channel: long-poll the server for commands, run them, post results.

``GET /api/v1/agents/<gid>/<nid>/cmd`` answers the next command (or 204 after ``wait``
seconds); each runs in a task of its own, so a long ``execute`` never holds up a ``kill``,
and its result goes to ``POST .../result``, retried until the server takes it. On an error
the channel waits 4 s, as the original did, before it asks again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from watchkeeper.agent.commands import Commands
from watchkeeper.agent.transport import UNREACHABLE, Session, describe

log = logging.getLogger("watchkeeper.agent")

BACKOFF = 4.0
#: How long a result is retried while the server is away before it is given up (logged).
RESULT_PATIENCE = 600.0


class Channel:
    def __init__(
        self, server: str, token: str | None, gid: str, nid: str, commands: Commands, wait: float
    ) -> None:
        # A poll answers within ``wait`` seconds: the margin is for a slow server, not the wait.
        self.http = Session(server, token, timeout=wait + 15)
        self.path = f"/api/v1/agents/{gid}/{nid}"
        self.commands = commands
        self.wait = wait
        self.running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                command = await self._next()
                if command is None:
                    continue
                task = asyncio.create_task(self._handle(command), name=f"cmd {command.get('id')}")
                self.running.add(task)
                task.add_done_callback(self.running.discard)
        finally:
            # Results still being posted get a moment (a restart's answer, say).
            if self.running:
                await asyncio.wait(self.running, timeout=2.0)
            for task in self.running:
                task.cancel()
            await self.http.aclose()

    async def _next(self) -> dict[str, Any] | None:
        try:
            answer = await self.http.get(f"{self.path}/cmd", params={"wait": str(self.wait)})
        except UNREACHABLE as exc:
            log.warning("cannot ask the server for commands: %s", describe(exc))
            await asyncio.sleep(BACKOFF)
            return None
        if answer.status == 204:
            return None
        if answer.status != 200:
            log.warning("asking for commands: %s %s", answer.status, answer.text[:200])
            await asyncio.sleep(BACKOFF)
            return None
        try:
            command = answer.json()
        except ValueError:
            return None
        return command if isinstance(command, dict) else None

    async def _handle(self, command: dict[str, Any]) -> None:
        result = await self.commands.run(command)
        await self.post_result(result)

    async def post_result(self, result: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESULT_PATIENCE
        while True:
            try:
                answer = await self.http.post(f"{self.path}/result", orjson.dumps(result))
                if answer.status < 500:
                    if answer.status >= 400:
                        log.warning("result of %s refused: %s", result["id"], answer.text[:200])
                    return
            except UNREACHABLE as exc:
                log.warning("cannot post the result of %s: %s", result["id"], describe(exc))
            if loop.time() > deadline:
                log.error("result of %s given up: the server stayed away", result["id"])
                return
            await asyncio.sleep(BACKOFF)
