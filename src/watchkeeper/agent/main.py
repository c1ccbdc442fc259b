"""``watchkeeper agent``: settings resolved, signals wired, the agent run until stopped."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from watchkeeper.agent import commands, config
from watchkeeper.agent.channel import Channel
from watchkeeper.agent.runner import Agent


def run_from_cli(
    file_data: Mapping[str, Any],
    resolved: Mapping[str, Any],
    *,
    check: bool = False,
    lean: bool = True,
) -> int:
    """The command's body; the exit status."""
    try:
        settings = config.resolve(file_data, {k: v for k, v in resolved.items() if v is not None})
        specs = config.programs(file_data)
        cmds = commands.settings_from(file_data)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if lean and not check and os.environ.get(_NO_EXEC) != "1":
        _exec_lean(file_data, resolved)  # returns only when it cannot
    if check:
        shown = dataclasses.asdict(settings)
        shown["token"] = "***" if settings.token else None
        shown["programs"] = {spec.key: [spec.domain, spec.name, spec.argv] for spec in specs}
        print(json.dumps(shown, sort_keys=True))
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        agent = Agent(settings, specs)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(agent, cmds))
    return 0


#: The agent's arguments, for its own process (see ``watchkeeper.agent.__main__``).
_ARGS = "WATCHKEEPER_AGENT_ARGS"
#: Set to ``1`` to run the agent in the command line's process.
_NO_EXEC = "WATCHKEEPER_AGENT_NO_EXEC"


def _exec_lean(file_data: Mapping[str, Any], resolved: Mapping[str, Any]) -> None:
    """Replace this process (same pid, for systemd and the signals) by a fresh interpreter
    that imports only the agent. The arguments go through the environment, not the command
    line where ``ps`` would show the token; the new process removes them at once, before
    any program inherits its environment."""
    try:
        args = json.dumps({"file": file_data, "resolved": dict(resolved)})
    except (TypeError, ValueError):
        return  # a TOML date, say: run here
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, _ARGS: args}
    try:
        os.execve(sys.executable, [sys.executable, "-m", "watchkeeper.agent"], env)
    except OSError:
        return


def run_exec_args() -> int:
    """The body of ``python -m watchkeeper.agent``: the arguments ``_exec_lean`` passed."""
    raw = os.environ.pop(_ARGS, None)
    if raw is None:
        print("error: run the agent with `watchkeeper agent`", file=sys.stderr)
        return 2
    args = json.loads(raw)
    return run_from_cli(args["file"], args["resolved"], lean=False)


async def _serve(agent: Agent, cmds: commands.CommandSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("watchkeeper.agent").info(
        "agent %s: %d programs, data in %s, server %s",
        agent.agent_id,
        len(agent.specs),
        agent.settings.data_dir,
        agent.settings.server,
    )
    if not cmds.poll:
        await agent.run(stop)
        return
    settings = agent.settings
    channel = Channel(
        settings.server,
        settings.token,
        settings.gid,
        settings.nid,
        commands.Commands(agent, cmds, stop),
        cmds.wait,
    )
    polling = asyncio.create_task(channel.run(stop))
    try:
        await agent.run(stop)
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
