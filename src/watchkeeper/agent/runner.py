"""The agent itself: its programs, its message pipeline, its heartbeat, its shutdown.

Messages flow program → :meth:`Agent.message` (statsd, level filters, ids) → pending lists →
the flusher (every 0.1 s: the journal's outbox first, then the local store) → the forwarder.
The agent is a component of type ``agent`` with id ``<gid>.<nid>``: it reports its state
switches and a heartbeat carrying a summary of its programs.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pathlib
import sqlite3
import time
from typing import IO, Any

import orjson

from watchkeeper.agent import config, levels, procs
from watchkeeper.agent.config import AgentSettings, ProgramSpec
from watchkeeper.agent.forwarder import Forwarder
from watchkeeper.agent.health import WriteHealth
from watchkeeper.agent.journal import INLINE, Journal
from watchkeeper.agent.parser import Message
from watchkeeper.agent.program import Program, Run
from watchkeeper.agent.stats import Sampler
from watchkeeper.agent.store import LogStore, Row
from watchkeeper.agent.waiting import wait_event
from watchkeeper.events import kinds
from watchkeeper.statsd import Statsd

log = logging.getLogger("watchkeeper.agent")

FLUSH_EVERY = 0.1
#: How long an urgent flush waits for what happens at once with it (a short command's start
#: and its end): one journal write and one forwarded batch instead of two of each.
LINGER = 0.005
#: Pending messages at which a program's reader waits for a flush: memory stays bounded and
#: transactions small however fast a program writes (the pipe then holds the rest).
FLUSH_AT = 2000


class Agent:
    def __init__(self, settings: AgentSettings, specs: list[ProgramSpec]) -> None:
        self.settings = settings
        self.agent_id = settings.agent_id
        self.restart_window = settings.restart_window
        self.max_message_bytes = settings.max_message_bytes
        data = pathlib.Path(settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(data / "agent.lock")
        self.journal = Journal(data / "journal.db")
        self.store = LogStore(data / "logs", settings.rotate_bytes)
        self.forwarder = Forwarder(
            self.journal,
            server=settings.server,
            token=settings.token,
            agent_id=self.agent_id,
            batch_size=settings.batch_size,
            batch_bytes=settings.batch_bytes,
            flush_interval=settings.flush_interval,
            retry_delay=settings.retry_delay,
            retry_delay_max=settings.retry_delay_max,
        )
        self.loglevels = levels.parse_levels(settings.loglevels)
        self.loglevels_db = levels.parse_levels(settings.loglevels_db)
        self.loglevels_ac = levels.parse_levels(settings.loglevels_ac)
        self.specs = list(specs)
        self.programs: dict[str, Program] = {}
        self.statsd: dict[str, Statsd] = {}
        self.state = "stopped"
        self._events: list[bytes] = []
        self._rows: list[Row] = []
        self._urgent = asyncio.Event()
        self._store_lock = asyncio.Lock()
        self.health = WriteHealth()
        # Ids only grow: a crash between the journal and the store commits must not reuse one.
        self._next_id = max(int(self.journal.get("next_id", 1)), self.store.last_id() + 1)

    # -- the Host protocol programs use ------------------------------------------------------

    def emit(self, event: dict[str, Any], urgent: bool = False) -> None:
        self._events.append(orjson.dumps(event))
        if urgent:
            self._urgent.set()

    def next_run(self, program: Program) -> int:
        if not program.lifecycle:
            # A one-shot command runs once under its own unique id: a counter kept for it
            # would be a journal entry per command, forever.
            return 1
        return self.journal.next_counter(f"run:{program.spec.domain}/{program.spec.name}")

    def running(self, program: Program, run: Run | None) -> None:
        # Written with the flush that carries the run's start (urgent, so within LINGER): a
        # short run that has ended by then costs no journal write.
        key = f"proc:{program.spec.domain}/{program.spec.name}"
        if run is None:
            self.journal.defer({}, delete=[key])
        else:
            info = {"pid": run.pid, "create_time": run.create_time, "task": run.task}
            self.journal.defer({key: info})
        self._urgent.set()

    async def drained(self) -> None:
        if len(self._events) >= FLUSH_AT or len(self._rows) >= FLUSH_AT:
            await self.flush()

    def message(self, program: Program, run: Run, message: Message) -> None:
        spec = program.spec
        if message.level == levels.STATSD:
            # Before any filtering, as in the original: a filtered-out level 10 still counts.
            errors = self._statsd(program).feed(message.data)
            if errors:
                message.error = "; ".join(errors[:5])
        if message.level not in (spec.loglevels or self.loglevels):
            if message.error is not None:  # an ignored level may not hide a problem silently
                self.message(program, run, _note(message))
            return
        message.id = self._next_id
        self._next_id += 1
        level = message.level
        if level in (spec.loglevels_db or self.loglevels_db):
            self._rows.append(
                (message.id, run.task, spec.domain, spec.name, int(message.epoch), level,
                 message.data)
            )  # fmt: skip
        if level in (spec.loglevels_ac or self.loglevels_ac):
            self.emit(self._log_event(program, run, message))
        if message.error is not None:
            self.message(program, run, _note(message))

    def _log_event(self, program: Program, run: Run, message: Message) -> dict[str, Any]:
        limit = self.settings.forward_max_bytes
        data = message.data
        event: dict[str, Any] = {
            "kind": "log.record",
            "ts": message.epoch,
            "level": levels.event_level(message.level),
            "source": f"agent:{self.agent_id}",
            "subject": f"task:{run.task}",
            "agent": self.agent_id,
            "job": run.task,
            "domain": program.spec.domain,
            "name": program.spec.name,
            "epoch": message.epoch,
            "id": message.id,
            "log_level": message.level,
            "data": data if len(data) <= limit else data[:limit],
        }
        if len(data) > limit:
            event["cut"] = f"forwarded the first {limit} of {len(data)} characters"
        if message.error is not None:
            event["error"] = message.error
        if message.result is not None and len(data) <= limit:
            event["result"] = message.result
        return event

    def _statsd(self, program: Program) -> Statsd:
        key = program.spec.key
        if key not in self.statsd:
            spec = program.spec
            self.statsd[key] = Statsd(f"{self.agent_id}.{spec.domain}.{spec.name}")
        return self.statsd[key]

    # -- the pipeline --------------------------------------------------------------------------

    async def flush(self) -> None:
        """Make what was captured durable: the outbox first (so it is forwarded), then the
        local store."""
        # Urgent events emitted while this flush writes make a flush of their own.
        urgent = self._urgent.is_set()
        self._urgent.clear()
        if not self._events and not self._rows and not self.journal.deferred:
            return
        events, self._events = self._events, []
        rows, self._rows = self._rows, []
        next_id = self._next_id
        async with self._store_lock:
            if len(events) + len(rows) <= INLINE:
                failed = self._write(events, rows, next_id)
            else:
                failed = await asyncio.to_thread(self._write, events, rows, next_id)
        if failed:
            # A full disk, say: keep what was not written, in order, and slow the readers
            # down (they wait for this flush) instead of losing it or crashing.
            self._events[:0] = failed[0]
            self._rows[:0] = failed[1]
            if urgent:
                self._urgent.set()
            self._note(self.health.failed(*failed[2]), logging.ERROR)
            await asyncio.sleep(1.0)
        else:
            self._note(self.health.succeeded(), logging.WARNING)
        if urgent or len(events) >= self.settings.batch_size:
            self.forwarder.wake.set()

    def _write(
        self, events: list[bytes], rows: list[Row], next_id: int
    ) -> tuple[list[bytes], list[Row], tuple[str, BaseException]] | None:
        """Write both files; what could not be written (``None`` when all was) and why."""
        try:
            self.journal.append(events, {"next_id": next_id})
        except (sqlite3.Error, OSError) as exc:
            return events, rows, ("the journal", exc)
        try:
            self.store.write(rows)
        except (sqlite3.Error, OSError) as exc:
            return [], rows, ("the log store", exc)
        return None

    def _note(self, message: str | None, level: int) -> None:
        """Log a change in the files' health and report it to the server as a state event
        (queued: it leaves once the journal takes writes again)."""
        if message is not None:
            log.log(level, "%s", message)
            self.emit(self._state_event(message), urgent=True)

    async def _flusher(self) -> None:
        while True:
            await wait_event(self._urgent, FLUSH_EVERY)
            if self._urgent.is_set():
                await asyncio.sleep(LINGER)
            await self.flush()

    async def query(self, **filters: Any) -> list[dict[str, Any]]:
        """``get_msgs``: the local store, newest first (see :meth:`LogStore.query`)."""
        await self.flush()
        async with self._store_lock:
            found = await asyncio.to_thread(lambda: self.store.query(**filters))
        return [record.as_dict() for record in found]

    async def delete(self, **filters: Any) -> int:
        """``del_msgs``: delete what :meth:`query` would answer; how many were deleted."""
        await self.flush()
        async with self._store_lock:
            return await asyncio.to_thread(lambda: self.store.delete(**filters))

    # -- the agent as a component --------------------------------------------------------------

    def _switch(self, state: str, message: str | None = None) -> None:
        self.state = state
        self.emit(self._state_event(message), urgent=True)

    def _state_event(self, message: str | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "kind": kinds.COMPONENT_STATE,
            "type": "agent",
            "id": self.agent_id,
            "state": self.state,
            "ts": time.time(),
            "programs": [p.snapshot() for p in self.programs.values()],
            "write_failures": self.health.failures,
        }
        if message:
            event["message"] = message
        return event

    async def _metrics(self) -> None:
        """Every program's stats interval: sample its processes, flush its statsd."""
        sampler = Sampler()
        due: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for key, program in list(self.programs.items()):
                interval = program.spec.stats_interval or self.settings.stats_interval
                if now >= due.setdefault(key, now + interval):
                    due[key] = now + interval
                    await self.sample(program, sampler, interval)
            await asyncio.sleep(0.1)

    async def sample(self, program: Program, sampler: Sampler, interval: float) -> None:
        """One stats sample of ``program`` and its statsd series, as one event."""
        aggregator = self._statsd(program)
        if program.pid is not None:
            stats = await asyncio.to_thread(sampler.sample, [program.pid])
            program.stats = stats
            # Sampled values are reported once ("kv"): a stopped program reports nothing.
            aggregator.values.update(stats)
        series = aggregator.flush()
        if series:
            spec = program.spec
            self.emit(
                {
                    "kind": "metric.series",
                    "ts": time.time(),
                    "agent": self.agent_id,
                    "domain": spec.domain,
                    "name": spec.name,
                    "interval": interval,
                    "series": [
                        [name, value] if tags is None else [name, value, tags]
                        for name, value, tags in series
                    ],
                }
            )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            self.emit(self._state_event("heartbeat"))

    def _clean_up_after_crash(self) -> None:
        """Runs the last agent left behind (it was killed): stop them and close their tasks."""
        left = self.journal.items("proc:")
        for key, info in left.items():
            pid, task = int(info.get("pid", 0)), info.get("task")
            alive = pid > 0 and procs.same_process(pid, float(info.get("create_time", 0)))
            if alive:
                procs.kill_all(pid, procs.tree(pid))
            log.warning("run %s was left by the previous agent (%s)", task, key)
            self.emit(
                {
                    "kind": kinds.TASK_STATUS,
                    "task": task,
                    "status": "aborted",
                    "agent": self.agent_id,
                    "producer": self.agent_id,
                    "ts": time.time(),
                    "level": "error",
                    "reason": "the agent stopped while the run was running"
                    + ("; its processes were killed" if alive else ""),
                }
            )
        self.journal.put({}, delete=[f"proc:{key}" for key in left])

    def add_program(self, key: str, table: dict[str, Any], *, one_shot: bool = False) -> Program:
        """Start a program given as a table while the agent runs; one with ``max_time = -1``
        is remembered in the journal and started again after an agent restart. A ``one_shot``
        run (a command's, neither recurring nor restarted) reports its task events only."""
        if key in self.programs:
            raise config.ConfigError(f"program {key}: already running")
        spec = config.program(key, table, f"program {key}")
        taken = {(p.spec.domain, p.spec.name) for p in self.programs.values()}
        if (spec.domain, spec.name) in taken:
            raise config.ConfigError(f"program {key}: {spec.domain}/{spec.name} is taken")
        if spec.long_running:
            self.journal.put({f"remember:{key}": table})
        one_shot = one_shot and not spec.recurring_period and not spec.max_restart
        program = self.programs[key] = Program(spec, self, lifecycle=not one_shot)
        program.start()
        return program

    def _remembered(self) -> list[ProgramSpec]:
        specs = []
        configured = {spec.key for spec in self.specs}
        for key, table in self.journal.items("remember:").items():
            if key in configured:
                continue
            try:
                specs.append(config.program(key, table, f"program {key}"))
            except config.ConfigError as exc:
                log.error("remembered program %s no longer valid: %s", key, exc)
        return specs

    async def run(self, stop: asyncio.Event) -> None:
        self._clean_up_after_crash()
        self.state = "starting"
        self._switch("starting", f"{len(self.specs)} programs")
        background = [
            asyncio.create_task(self._flusher(), name="flusher"),
            asyncio.create_task(self.forwarder.run(), name="forwarder"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
            asyncio.create_task(self._metrics(), name="metrics"),
        ]
        try:
            for spec in [*self.specs, *self._remembered()]:
                program = self.programs[spec.key] = Program(spec, self)
                program.start()
            self._switch("running")
            await stop.wait()
            self._switch("stopping")
            await asyncio.gather(*(p.stop() for p in self.programs.values()))
            self._switch("stopped")
            await self.flush()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self.flush()
            last_send = asyncio.ensure_future(self.forwarder.send_pending())
            await asyncio.wait({last_send}, timeout=self.settings.shutdown_timeout)
            last_send.cancel()
            await asyncio.gather(last_send, return_exceptions=True)
            left = await asyncio.to_thread(self.journal.pending_count)
            if left:
                log.warning("%d events not yet acknowledged: sent at the next start", left)
            await self.forwarder.aclose()
            self.journal.close()
            self.store.close()
            self._lock.close()


def _lock(path: pathlib.Path) -> IO[str]:
    """Hold ``path`` locked while the agent runs: two agents on one data directory would
    kill each other's programs and reuse each other's ids."""
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise config.ConfigError(f"{path.parent} is in use by agent pid {owner}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _note(message: Message) -> Message:
    """The agent's level-8 message saying what was wrong with ``message``."""
    which = f"message {message.id}" if message.id else "a message"
    return Message(
        levels.OPS_ERROR,
        f"{which} (level {message.level}) kept as text: {message.error}",
        message.epoch,
    )
