"""``type = "command"``: supervise an external shipper (Filebeat, say) and read its JSON lines
from stdout, the seed's design for users who keep Filebeat.

Leftover processes running the same command line (from a server that died uncleanly) are
killed before each start, as offspot killed every ``filebeat`` before starting its own; the
command is restarted ``restart_after`` seconds after it exits. There are no offsets to keep:
the shipper keeps its own (Filebeat's registry), and what it printed is committed in batches
like a file's lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import psutil

from watchkeeper.inputs.batch import Pipeline
from watchkeeper.inputs.settings import InputSpec
from watchkeeper.inputs.tail import Read
from watchkeeper.store.writerbase import BaseWriter

log = logging.getLogger(__name__)


def kill_leftovers(command: tuple[str, ...]) -> int:
    """Kill the processes (other than this one) running exactly ``command``; how many."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] != os.getpid() and tuple(proc.info["cmdline"] or ()) == command:
            found.append(proc)
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(found, timeout=5)
    return len(found)


class CommandInput:
    def __init__(
        self,
        spec: InputSpec,
        pipeline: Pipeline,
        writer: BaseWriter,
        *,
        checkpoint: float = 60.0,
    ) -> None:
        self.spec, self.pipeline, self.writer, self.checkpoint = spec, pipeline, writer, checkpoint
        self.starts = 0
        self.lines_total = 0
        self.pid: int | None = None
        self._stop = asyncio.Event()
        self._offset = 0

    async def run(self) -> None:
        while not self._stop.is_set():
            killed = await asyncio.to_thread(kill_leftovers, self.spec.command)
            if killed:
                log.warning("input %s: killed %d leftover processes", self.spec.id, killed)
            try:
                await self._once()
            except OSError as exc:
                log.error("input %s: cannot start %s: %s", self.spec.id, self.spec.command, exc)
            await self._flush()
            if not self._stop.is_set():
                log.error(
                    "input %s: command exited, restarting in %ss",
                    self.spec.id,
                    self.spec.restart_after,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.spec.restart_after)

    async def _once(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.spec.command,
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            limit=1024 * 1024,
        )
        assert proc.stdout is not None
        self.starts += 1
        self.pid = proc.pid
        stopping = asyncio.create_task(self._stop.wait())
        last = time.monotonic()
        try:
            while True:
                reading = asyncio.create_task(proc.stdout.readline())
                done, _ = await asyncio.wait(
                    {reading, stopping},
                    timeout=self.checkpoint,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stopping in done:
                    reading.cancel()
                    break
                if reading in done:
                    line = reading.result()
                    if not line:
                        break
                    self._feed([line.rstrip(b"\n")], len(line))
                else:
                    reading.cancel()
                if time.monotonic() - last >= self.checkpoint:
                    await self._flush()
                    last = time.monotonic()
        finally:
            stopping.cancel()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    def _feed(self, lines: list[bytes], size: int) -> None:
        start, self._offset = self._offset, self._offset + size
        self.pipeline.feed(Read("command", " ".join(self.spec.command), start, self._offset, lines))
        self.lines_total += len(lines)

    async def _flush(self) -> None:
        batch = self.pipeline.take()
        if batch:
            await self.writer.write(batch)

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "type": "command",
            "format": self.spec.format,
            "command": list(self.spec.command),
            "pid": self.pid,
            "starts": self.starts,
            "lines": self.lines_total,
            "files": [],
        }
