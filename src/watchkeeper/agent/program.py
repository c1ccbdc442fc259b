"""One supervised program: runs, restart policy with back-off, timeouts, recurring runs.

Every run is a task ``<agent>/<domain>/<name>/<run>`` whose status events (``running``, then
``success``, ``failed``, ``timeout`` or ``aborted`` with the exit code) the host forwards; the
program itself is a component of type ``program`` whose state switches (starting, running,
backoff, waiting, exited, fatal, stopped) are the lifecycle events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Protocol

from watchkeeper.agent import child, levels, procs
from watchkeeper.agent.config import ProgramSpec
from watchkeeper.agent.parser import LineSplitter, Message, StreamParser
from watchkeeper.agent.waiting import wait_event
from watchkeeper.events import kinds

log = logging.getLogger("watchkeeper.agent")

#: How long the pipes may stay open after the main process exited before the run is closed.
DRAIN_SECONDS = 1.0


class Host(Protocol):
    """What a program needs from the agent that runs it."""

    agent_id: str
    restart_window: float
    max_message_bytes: int

    def emit(self, event: dict[str, Any], urgent: bool = False) -> None: ...

    def message(self, program: Program, run: Run, message: Message) -> None: ...

    async def drained(self) -> None: ...

    def next_run(self, program: Program) -> int: ...

    def running(self, program: Program, run: Run | None) -> None: ...


@dataclass(slots=True)
class Run:
    number: int
    task: str
    started: float
    pid: int = 0
    create_time: float = 0.0
    #: The last result message (levels 20-23, 30): it becomes the run's result.
    result: Message | None = None
    #: Messages of plain output (levels 1 and 2) captured.
    output: int = 0
    status: str = "running"
    exit_code: int | None = None
    reason: str | None = None
    ended: float | None = None

    @property
    def duration(self) -> float:
        return (self.ended or time.time()) - self.started


class Program:
    def __init__(self, spec: ProgramSpec, host: Host, lifecycle: bool = True) -> None:
        self.spec = spec
        self.host = host
        #: Whether its state switches are events. A one-shot command's run is a task only:
        #: its task events say all, and a component per command would pile up on the server.
        self.lifecycle = lifecycle
        self.component_id = f"{host.agent_id}/{spec.domain}/{spec.name}"
        self.state = "stopped"
        self.run: Run | None = None
        self.runs = 0
        self.restarts = 0
        #: Consecutive failures, each within ``restart_window`` of its run's start.
        self.failures = 0
        #: The last stats sample of the run's processes (see ``stats.Sampler``).
        self.stats: dict[str, float] = {}
        self._stop = asyncio.Event()
        self._proc: child.Child | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self._stop.clear()
        self._task = asyncio.create_task(self.supervise(), name=f"program {self.spec.key}")
        return self._task

    async def finished(self) -> None:
        """Wait until the program is supervised no more (it exited, gave up or was stopped)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop the current run (stop_signal, stop_wait, then kill) and supervise no more."""
        self._stop.set()
        if self._task is not None:
            await self._task

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    def _switch(self, state: str, message: str | None = None, level: str = "info") -> None:
        self.state = state
        if not self.lifecycle:
            return
        event = {
            "kind": kinds.COMPONENT_STATE,
            "type": "program",
            "id": self.component_id,
            "state": state,
            "level": level,
            "ts": time.time(),
            "agent": self.host.agent_id,
            "domain": self.spec.domain,
            "name": self.spec.name,
            "restarts": self.restarts,
        }
        if message:
            event["message"] = message
        self.host.emit(event, urgent=True)

    async def supervise(self) -> None:
        try:
            await self._supervise()
        except Exception as exc:  # a bug here must show, not silently end the supervision
            log.exception("supervising %s failed", self.component_id)
            self._switch("fatal", f"the agent failed to supervise it: {exc!r}", "critical")

    async def _supervise(self) -> None:
        spec = self.spec
        while not self._stop.is_set():
            run = await self._run_once()
            if self._stop.is_set():
                break
            failed = run.status in ("failed", "timeout")
            if failed:
                quick = run.duration < self.host.restart_window
                self.failures = self.failures + 1 if quick else 1
            else:
                self.failures = 0
            # A recurring program that succeeded waits for its next period, not a restart.
            wants = (failed and spec.autorestart != "never") or (
                spec.autorestart == "always" and spec.recurring_period <= 0
            )
            if failed and wants and 0 <= spec.max_restart < self.failures:
                self._give_up(run)
                return
            if wants:
                delay = self.backoff() if failed else spec.restart_delay
                self.restarts += 1
                if delay > 0:
                    self._switch("backoff", f"restart {self.restarts} in {delay:g} s")
                if await self._sleep(delay):
                    break
                continue
            if spec.recurring_period > 0:
                wait = max(0.0, run.started + spec.recurring_period - time.time())
                self._switch("waiting", f"next run in {wait:.3g} s")
                if await self._sleep(wait):
                    break
                continue
            self._switch("exited", _outcome(run))
            return
        self._switch("stopped")

    def backoff(self) -> float:
        """The delay before the next restart: doubling with each quick failure, capped."""
        spec = self.spec
        exponent = max(self.failures - 1, 0)
        return min(spec.restart_delay * (2 ** min(exponent, 30)), spec.restart_delay_max)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, or return True as soon as a stop is asked for."""
        return await wait_event(self._stop, seconds)

    def _give_up(self, run: Run) -> None:
        spec = self.spec
        message = (
            f"{spec.domain}/{spec.name} failed {self.failures} times, each within "
            f"{self.host.restart_window:g} s of its start (max_restart = {spec.max_restart}): "
            "not restarted"
        )
        self._switch("fatal", message, level="critical")
        self.host.emit(
            {
                "kind": kinds.INCIDENT,
                "agent": self.host.agent_id,
                "level": "critical",
                "ts": time.time(),
                "message": message,
                "last_state": "fatal",
                "task": run.task,
                "program": self.component_id,
                "exit_code": run.exit_code,
            },
            urgent=True,
        )

    async def _run_once(self) -> Run:
        spec = self.spec
        number = self.host.next_run(self)
        agent = self.host.agent_id
        run = Run(number, f"{agent}/{spec.domain}/{spec.name}/{number}", time.time())
        self.run = run
        self.runs += 1
        self._switch("starting")
        try:
            proc = await child.start(
                list(spec.argv),
                stdin=spec.stdin is not None,
                cwd=spec.working_dir,
                env=self._environment(),
            )
        except OSError as exc:
            run.status, run.reason, run.ended = "failed", f"cannot start: {exc}", time.time()
            self._task_status(run)
            return run
        self._proc = proc
        if spec.stdin is not None:
            feeding = asyncio.create_task(proc.feed(spec.stdin.encode()))
            feeding.add_done_callback(lambda task: task.cancelled() or task.exception())
        run.pid = proc.pid
        run.create_time = procs.create_time(proc.pid)
        self.host.running(self, run)
        self._task_status(run)
        self._switch("running", f"pid {proc.pid}")
        readers = [
            asyncio.create_task(self._read(proc.stdout, 1, run)),
            asyncio.create_task(self._read(proc.stderr, 2, run)),
        ]
        await self._wait(proc, run)
        # The pipes close when the last process holding them exits; what the run left
        # behind in its group is killed, so a run always ends with its main process.
        _done, pending = await asyncio.wait(readers, timeout=DRAIN_SECONDS)
        if pending:
            await asyncio.to_thread(procs.kill_all, proc.pid, [], proc.pid)
            _done, pending = await asyncio.wait(pending, timeout=DRAIN_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        proc.close()
        self._proc = None
        self.host.running(self, None)
        run.ended = time.time()
        self._task_status(run)
        return run

    async def _wait(self, proc: child.Child, run: Run) -> None:
        limit = self.spec.max_time if self.spec.max_time > 0 else None
        exited = asyncio.create_task(proc.wait())
        stopping = asyncio.create_task(self._stop.wait())
        await asyncio.wait({exited, stopping}, timeout=limit, return_when="FIRST_COMPLETED")
        stopping.cancel()
        if exited.done():
            code = exited.result()
            run.exit_code = code
            run.status = "success" if code == 0 else "failed"
            if code < 0:
                run.reason = f"killed by {_signal_name(-code)}"
            return
        run.status = "aborted" if self._stop.is_set() else "timeout"
        if run.status == "timeout":
            run.reason = f"ran longer than max_time ({self.spec.max_time:g} s)"
        else:
            run.reason = "stopped"
        await self.terminate(proc, exited)
        run.exit_code = proc.returncode

    async def terminate(self, proc: child.Child, exited: asyncio.Future) -> None:
        """stop_signal to the whole group, stop_wait, then SIGKILL to the group and tree."""
        tree = await asyncio.to_thread(procs.tree, proc.pid)
        procs.signal_group(proc.pid, self.spec.stop_signal)
        await asyncio.wait({exited}, timeout=self.spec.stop_wait)
        # Even if the main process obeyed, its children may not have: kill what is left.
        await asyncio.to_thread(procs.kill_all, proc.pid, tree, proc.pid)
        await exited

    async def _read(self, stream: child.Output, level: int, run: Run) -> None:
        limit = self.host.max_message_bytes
        splitter = LineSplitter(limit)
        parser = StreamParser(level, limit)
        try:
            while chunk := await stream.read(1 << 16):
                now = time.time()
                for line, cut in splitter.feed(chunk):
                    message = parser.line(line, now, cut)
                    if message is not None:
                        self._deliver(run, message)
                # A read of buffered data never suspends: without this a busy program would
                # starve the flusher and the heartbeat.
                await self.host.drained()
                await asyncio.sleep(0)
        finally:
            now = time.time()
            for line, cut in splitter.close():
                message = parser.line(line, now, cut)
                if message is not None:
                    self._deliver(run, message)
            message = parser.close()
            if message is not None:
                self._deliver(run, message)

    def _deliver(self, run: Run, message: Message) -> None:
        if message.level in levels.RESULT_LEVELS:
            run.result = message
        elif message.level in (levels.STDOUT, levels.STDERR):
            run.output += 1
        try:
            self.host.message(self, run, message)
        except Exception:  # one bad message must never stop the capture
            log.exception("message of %s could not be handled", self.component_id)

    def _environment(self) -> dict[str, str] | None:
        if not self.spec.env:
            return None
        return {**os.environ, **self.spec.env}

    def _task_status(self, run: Run) -> None:
        event: dict[str, Any] = {
            "kind": kinds.TASK_STATUS,
            "task": run.task,
            "status": run.status,
            "agent": self.host.agent_id,
            "producer": self.host.agent_id,
            "ts": run.ended if run.ended is not None else run.started,
            "level": "info" if run.status in ("running", "success") else "error",
            "domain": self.spec.domain,
            "name": self.spec.name,
            "run": run.number,
            "pid": run.pid or None,
        }
        if run.status != "running":
            event["exit_code"] = run.exit_code
            event["duration"] = round(run.duration, 3)
            if run.reason:
                event["reason"] = run.reason
            if run.result is not None:
                event["result_level"] = run.result.level
                event["result"] = (
                    run.result.result if run.result.result is not None else run.result.data
                )
        self.host.emit(event, urgent=True)

    def snapshot(self) -> dict[str, Any]:
        run = self.run
        return {
            "key": self.spec.key,
            "domain": self.spec.domain,
            "name": self.spec.name,
            "state": self.state,
            "pid": self.pid,
            "runs": self.runs,
            "restarts": self.restarts,
            "task": run.task if run else None,
            "exit_code": run.exit_code if run else None,
            "stats": self.stats if self.pid is not None else {},
        }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _outcome(run: Run) -> str:
    text = f"run {run.number} ended {run.status}"
    if run.exit_code is not None:
        text += f" (exit code {run.exit_code})"
    return text
