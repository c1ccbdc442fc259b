"""The commands an agent runs for the server, and their results.

A command ``{"id", "gid", "nid", "cmd", "args", "data"}`` gives a result ``{"id", "gid",
"nid", "cmd", "args", "data", "level", "state", "starttime", "time"}`` (times in ms), state
``SUCCESS``, ``ERROR``, ``TIMEOUT`` or ``KILLED``. ``execute`` (and the script runners of
``[cmds.<name>]``) start a program with the command's run options; its result is the run's last
result message (levels 20-23, 30), or else its output. Executables run only if the
``[cmds] allow_execute`` list names them (or is ``"*"``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from watchkeeper.agent import config, levels, sysinfo
from watchkeeper.agent.program import Program
from watchkeeper.agent.runner import Agent
from watchkeeper.agent.store import MAX_LIMIT

log = logging.getLogger("watchkeeper.agent")

#: The run options a command's ``args`` may carry besides ``name``, ``args``, ``working_dir``.
RUN_OPTIONS = (
    "max_time", "max_restart", "recurring_period", "stats_interval",
    "loglevels", "loglevels_db", "loglevels_ac",
)  # fmt: skip
#: A result without a result message carries the run's last output, up to this many chars.
OUTPUT_CHARS = 64 << 10
STATES = {"success": "SUCCESS", "failed": "ERROR", "timeout": "TIMEOUT", "aborted": "KILLED"}
PREFIX = "cmd-"


class Refused(Exception):
    """The command cannot run: its result is ERROR with this reason."""


@dataclass(slots=True)
class Runner:
    binary: str
    path: str | None = None


@dataclass(slots=True)
class CommandSettings:
    """The ``[cmds]`` table of the agent's file."""

    poll: bool = True
    wait: float = 30.0
    allow_execute: list[str] | None = None  # None: nothing; ["*"]: everything
    runners: dict[str, Runner] = field(default_factory=dict)

    def allows(self, executable: str) -> bool:
        allowed = self.allow_execute or []
        return "*" in allowed or executable in allowed or os.path.basename(executable) in allowed


def settings_from(file_data: Mapping[str, Any]) -> CommandSettings:
    table = file_data.get("cmds", {})
    if not isinstance(table, dict):
        raise config.ConfigError("[cmds] must be a table")
    found = CommandSettings()
    for key, value in table.items():
        if isinstance(value, dict):
            binary = value.get("binary", value.get("Binary"))
            path = value.get("path", value.get("Path"))
            if not isinstance(binary, str) or not (path is None or isinstance(path, str)):
                raise config.ConfigError(f"cmds.{key}: binary (and path) must be strings")
            found.runners[key] = Runner(binary, path)
        elif key == "allow_execute":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise config.ConfigError('cmds.allow_execute: a list of executables or "*"')
            found.allow_execute = items
        elif key == "poll" and isinstance(value, bool):
            found.poll = value
        elif key == "wait" and isinstance(value, int | float) and 0 < value <= 300:
            found.wait = float(value)
        else:
            raise config.ConfigError(f"cmds.{key}: unknown key or bad value")
    return found


class Commands:
    def __init__(self, agent: Agent, settings: CommandSettings, stop: asyncio.Event) -> None:
        self.agent = agent
        self.settings = settings
        self.stop = stop
        #: The task of each command's program, so ``get_msgs`` finds a command's messages.
        self.tasks: dict[str, str] = {}
        #: Commands stopped by ``kill`` or ``killall``: KILLED, even between recurring runs.
        self.killed: set[str] = set()
        self.builtins: dict[str, Callable[[dict[str, Any], Any], Awaitable[Any]]] = {
            "ping": self._ping,
            "restart": self._restart,
            "killall": self._killall,
            "kill": self._kill,
            "get_processes_stats": self._processes_stats,
            "get_process_stats": self._process_stats,
            "get_nic_info": _info(sysinfo.nic_info),
            "get_mem_info": _info(sysinfo.mem_info),
            "get_disk_info": _info(sysinfo.disk_info),
            "get_cpu_info": _info(sysinfo.cpu_info),
            "get_os_info": _info(sysinfo.os_info),
            "get_msgs": self._get_msgs,
            "del_msgs": self._del_msgs,
        }

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        """Run ``command``; its result (never raises)."""
        started = time.time()
        result = {k: command.get(k) for k in ("id", "gid", "nid", "cmd", "args")}
        name = str(command.get("cmd"))
        try:
            if name == "execute" or name in self.settings.runners:
                outcome = await self._execute(command)
            elif name in self.builtins:
                value = await self.builtins[name](command.get("args") or {}, _data(command))
                outcome = {"state": "SUCCESS", "level": levels.RESULT_JSON, "data": value}
            else:
                raise Refused(f"unknown command {name!r}")
        except Refused as exc:
            outcome = {"state": "ERROR", "level": levels.OPS_ERROR, "data": str(exc)}
        except Exception as exc:  # a bug in one command must answer, not kill the channel
            log.exception("command %s (%s) failed", command.get("id"), name)
            outcome = {"state": "ERROR", "level": levels.OPS_ERROR, "data": repr(exc)}
        if not isinstance(outcome["data"], str):
            outcome["data"] = orjson.dumps(outcome["data"]).decode()
        ended = time.time()
        outcome.setdefault("starttime", int(started * 1000))
        outcome.setdefault("time", int((ended - started) * 1000))
        return result | outcome

    # -- programs ------------------------------------------------------------------------------

    def _program_table(self, command: dict[str, Any]) -> dict[str, Any]:
        args = command.get("args") or {}
        if not isinstance(args, dict):
            raise Refused("args must be an object")
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise Refused("args.name: the executable (or script) to run is required")
        argv = args.get("args") or []
        if not isinstance(argv, list):
            raise Refused("args.args must be a list")
        runner = self.settings.runners.get(str(command.get("cmd")))
        table: dict[str, Any] = {"working_dir": args.get("working_dir")}
        if runner is not None:
            script = pathlib.PurePosixPath(name)
            if script.is_absolute() or ".." in script.parts:
                raise Refused(f"{command['cmd']}: {name!r} must be a script under its path")
            table |= {"command": runner.binary, "args": [name, *argv]}
            table["working_dir"] = runner.path or table["working_dir"]
        elif not self.settings.allows(name):
            raise Refused(f"execute of {name!r} is not allowed by this agent (cmds.allow_execute)")
        else:
            table |= {"command": name, "args": argv}
        for option in RUN_OPTIONS:
            if args.get(option) not in (None, 0, "", [], "*") or option == "max_time":
                table[option] = args.get(option, 0)
        table.setdefault("max_restart", 0)
        table["autorestart"] = "on-failure" if table["max_restart"] else "never"
        table["domain"] = str(args.get("domain") or "cmd")[:60].replace("/", "_")
        table["name"] = _program_name(str(command["id"]))
        if table.get("stats_interval") is not None and table["stats_interval"] <= 0:
            del table["stats_interval"]
        data = command.get("data")
        if data is not None:
            table["stdin"] = data if isinstance(data, str) else orjson.dumps(data).decode()
        return {k: v for k, v in table.items() if v is not None}

    async def _execute(self, command: dict[str, Any]) -> dict[str, Any]:
        table = self._program_table(command)
        key = PREFIX + str(command["id"])
        try:
            program = self.agent.add_program(key, table, one_shot=True)
        except config.ConfigError as exc:
            raise Refused(str(exc)) from None
        started = time.time()
        try:
            await program.finished()
        finally:
            self.agent.programs.pop(key, None)
            if program.spec.long_running:
                self.agent.journal.put({}, delete=[f"remember:{key}"])
        run = program.run
        if run is None:
            raise Refused("the program did not run")
        self.tasks[str(command["id"])] = run.task
        killed = str(command["id"]) in self.killed
        self.killed.discard(str(command["id"]))
        outcome: dict[str, Any] = {
            "state": "KILLED" if killed else STATES.get(run.status, "ERROR"),
            "starttime": int(started * 1000),
            "time": int((time.time() - started) * 1000),
        }
        if run.result is not None:
            return outcome | {"level": run.result.level, "data": run.result.data}
        # Reading the output back flushes the agent's store to disk first: not for a run
        # that printed nothing.
        output = await self._output(run.task) if run.output else ""
        if not output and run.reason:
            return outcome | {"level": levels.OPS_ERROR, "data": run.reason}
        return outcome | {"level": levels.STDOUT, "data": output}

    async def _output(self, task: str) -> str:
        found = await self.agent.query(jobid=task, levels=[1, 2], limit=MAX_LIMIT)
        text = "\n".join(record["data"] for record in reversed(found))
        return text[-OUTPUT_CHARS:]

    def _by_command(self) -> dict[str, Program]:
        return {
            key[len(PREFIX) :]: program
            for key, program in self.agent.programs.items()
            if key.startswith(PREFIX)
        }

    # -- builtins ------------------------------------------------------------------------------

    async def _ping(self, args: dict[str, Any], data: Any) -> str:
        return "pong"

    async def _restart(self, args: dict[str, Any], data: Any) -> str:
        # The agent stops once this result is sent; its service manager starts it again.
        asyncio.get_running_loop().call_later(0.5, self.stop.set)
        return "restarting"

    async def _killall(self, args: dict[str, Any], data: Any) -> list[str]:
        running = self._by_command()
        self.killed.update(running)
        await asyncio.gather(*(program.stop() for program in running.values()))
        remembered = self.agent.journal.items("remember:")
        self.agent.journal.put({}, delete=[f"remember:{key}" for key in remembered])
        return sorted(running)

    async def _kill(self, args: dict[str, Any], data: Any) -> str:
        cid = str((data or {}).get("id") if isinstance(data, dict) else data)
        program = self._by_command().get(cid)
        if program is None:
            raise Refused(f"Process with id '{cid}' doesn't exist")
        self.killed.add(cid)
        await program.stop()
        return f"killed {cid}"

    async def _processes_stats(self, args: dict[str, Any], data: Any) -> list[dict[str, Any]]:
        wanted = data if isinstance(data, dict) else {}
        out = []
        for cid, program in self._by_command().items():
            spec = program.spec
            if wanted.get("domain") and wanted["domain"] != spec.domain:
                continue
            if wanted.get("name") and wanted["name"] not in (spec.name, cid):
                continue
            out.append(await self._stats_of(cid, program))
        return out

    async def _process_stats(self, args: dict[str, Any], data: Any) -> dict[str, Any]:
        cid = str((data or {}).get("id") if isinstance(data, dict) else data)
        program = self._by_command().get(cid)
        if program is None:
            raise Refused(f"Process with id '{cid}' doesn't exist")
        return await self._stats_of(cid, program)

    async def _stats_of(self, cid: str, program: Program) -> dict[str, Any]:
        pid = program.pid
        stats = await asyncio.to_thread(sysinfo.process_stats, pid) if pid else {}
        return {"cmd": cid, "domain": program.spec.domain, "pid": pid, **stats}

    def _filters(self, data: Any) -> dict[str, Any]:
        query = data if isinstance(data, dict) else {}
        limit = query.get("limit", 20)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise Refused(f"limit must be between 1 and {MAX_LIMIT}")
        jobid = query.get("jobid") or None
        jobid = self.tasks.get(str(jobid), jobid) if jobid is not None else None
        if jobid is not None and jobid in self._by_command():
            run = self._by_command()[jobid].run
            jobid = run.task if run is not None else jobid
        levels_given = query.get("levels", "*")
        try:
            levels.parse_levels(levels_given)
        except ValueError as exc:
            raise Refused(f"levels: {exc}") from None
        filters = {"jobid": jobid, "levels": levels_given, "limit": limit}
        for name in ("timefrom", "timeto"):
            if query.get(name) not in (None, 0):
                filters[name] = float(query[name])
        return filters

    async def _get_msgs(self, args: dict[str, Any], data: Any) -> list[dict[str, Any]]:
        return await self.agent.query(**self._filters(data))

    async def _del_msgs(self, args: dict[str, Any], data: Any) -> dict[str, int]:
        return {"deleted": await self.agent.delete(**self._filters(data))}


def _info(fn: Callable[[], Any]) -> Callable[[dict[str, Any], Any], Awaitable[Any]]:
    async def run(args: dict[str, Any], data: Any) -> Any:
        return await asyncio.to_thread(fn)

    return run


def _data(command: dict[str, Any]) -> Any:
    """A command's ``data``: JSON when it parses (the original sent ``{"id": ...}`` as text)."""
    data = command.get("data")
    if isinstance(data, str) and data[:1] in ("{", "["):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
    return data


def _program_name(cid: str) -> str:
    """A program name from a command id (1 to 60 characters, no slash)."""
    return re.sub(r"[^A-Za-z0-9._:-]", "_", cid)[:60] or "cmd"
