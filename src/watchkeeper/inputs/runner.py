"""The inputs of a running server: one task per input, started by the server's lifespan.

Each batch goes through the server's writer like any other; what the lines produced and the
files' offsets are committed together. Batches are written at least every
``checkpoint_seconds`` (offspot's per-minute save of the hour's indicator state), when many
lines are waiting, and once more on shutdown (SIGINT/SIGTERM), so a clean stop loses nothing
and an unclean one only re-reads what was not committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.inputs import indicators, packages
from watchkeeper.inputs.batch import MAX_CLOCK_SKEW, Pipeline
from watchkeeper.inputs.command import CommandInput
from watchkeeper.inputs.settings import InputSpec
from watchkeeper.inputs.tail import Follower, size_now
from watchkeeper.store.writerbase import BaseWriter
from watchkeeper.views import inputs as inputs_view

log = logging.getLogger(__name__)
#: Lines that make a batch be written before the checkpoint is due.
MAX_LINES = 50_000


def make_pipeline(
    spec: InputSpec, packages_path: str | None, max_skew: float = MAX_CLOCK_SKEW
) -> Pipeline:
    router = None
    if spec.format == "caddy":
        path = packages.location(packages_path)
        if path:
            loaded = packages.load(path)
            for warning in loaded.warnings:
                log.warning(warning)
            router = packages.Router(loaded)
    return Pipeline(spec.id, spec.format, router, indicators.load(), max_skew)


class FileInput:
    """One ``type = "file"`` input: follow, parse, write."""

    def __init__(
        self,
        spec: InputSpec,
        pipeline: Pipeline,
        writer: BaseWriter,
        engine: sa.Engine,
        *,
        checkpoint: float = 60.0,
        poll: float = 0.5,
        ticks: bool = True,
    ) -> None:
        self.spec, self.pipeline, self.writer, self.engine = spec, pipeline, writer, engine
        self.checkpoint, self.poll, self.ticks = checkpoint, poll, ticks
        self.follower: Follower | None = None
        self.lines_per_second = 0.0
        self.lines_total = 0
        self.errors: int = 0
        #: fingerprint → (offset, when) as last committed: what the lag is measured from.
        self.committed: dict[str, tuple[int, float]] = {}
        self._stop = asyncio.Event()

    def _follower(self) -> Follower:
        with self.engine.connect() as conn:
            known = inputs_view.offsets(conn, self.spec.id)
            self.committed = inputs_view.commits(conn, self.spec.id)
        return Follower(self.spec.paths, known, from_end=self.spec.read_from == "end" and not known)

    def step(self) -> int:
        """Scan and read once (blocking file work); the number of lines read."""
        assert self.follower is not None
        self.follower.scan()
        count = 0
        for read in self.follower.read():
            self.pipeline.feed(read)
            count += len(read.lines)
        return count

    async def flush(self) -> None:
        batch = self.pipeline.take()
        if batch:
            files = [f for e in batch if e.kind == inputs_view.KIND for f in e.attrs["files"]]
            await self.writer.write(batch)
            now = time.time()
            for item in files:
                self.committed[item["fp"]] = (int(item["offset"]), now)
            if self.follower is not None and len(self.committed) > 2 * len(self.follower.tracked):
                tracked = self.follower.tracked
                self.committed = {k: v for k, v in self.committed.items() if k in tracked}

    def tailing(self, now: float) -> list[dict[str, Any]]:
        """Per followed file: the bytes written and not yet committed, and the seconds since
        a line of it was committed (or since it was first seen, if none was yet)."""
        if self.follower is None:
            return []
        out = []
        for t in list(self.follower.tracked.values()):
            offset, at = self.committed.get(t.fp, (t.start, t.since))
            behind = max(0, size_now(t) - offset)
            idle = max(0.0, now - at)
            lag = idle if behind else 0.0
            out.append({"path": t.path, "lagBytes": behind, "idleSeconds": idle, "lagSeconds": lag})
        return out

    async def run(self) -> None:
        self.follower = await asyncio.to_thread(self._follower)
        last = time.monotonic()
        window, window_start = 0, last
        while not self._stop.is_set():
            try:
                count = await asyncio.to_thread(self.step)
                if self.ticks and self.spec.format == "caddy":
                    self.pipeline.tick(time.time())
                now = time.monotonic()
                window += count
                self.lines_total += count
                if now - window_start >= 5:
                    self.lines_per_second = window / (now - window_start)
                    window, window_start = 0, now
                if self.pipeline.lines >= MAX_LINES or now - last >= self.checkpoint:
                    await self.flush()
                    last = now
                if not count:
                    await asyncio.wait_for(self._stop.wait(), self.poll)
            except TimeoutError:
                continue
            except Exception:
                # Nothing of the failed batch was committed: read again from the committed
                # offsets, with a fresh pipeline.
                log.exception("input %s: batch not stored, reading again", self.spec.id)
                self.errors += 1
                self.follower.close()
                self.pipeline = Pipeline(
                    self.spec.id,
                    self.spec.format,
                    self.pipeline.router,
                    self.pipeline.delta.indicators,
                    self.pipeline.max_skew,
                )
                await asyncio.sleep(self.poll)
                self.follower = await asyncio.to_thread(self._follower)
        await self.flush()
        self.follower.close()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "type": self.spec.type,
            "format": self.spec.format,
            "paths": list(self.spec.paths),
            "linesPerSecond": round(self.lines_per_second, 1),
            "lines": self.lines_total,
            "storeFailures": self.errors,
            "files": self.follower.lag() if self.follower else [],
        }


class Inputs:
    """Every configured input of the server."""

    def __init__(
        self,
        specs: Sequence[InputSpec],
        kpis: dict[str, Any],
        writer: BaseWriter,
        engine: sa.Engine,
    ) -> None:
        checkpoint = float(kpis.get("checkpoint_seconds", 60.0))
        skew = float(kpis.get("max_clock_skew_seconds", MAX_CLOCK_SKEW))
        self.inputs: list[FileInput | CommandInput] = [
            FileInput(
                spec,
                make_pipeline(spec, kpis.get("packages"), skew),
                writer,
                engine,
                checkpoint=checkpoint,
                poll=spec.poll_seconds,
            )
            for spec in specs
            if spec.type == "file"
        ]
        self.inputs += [
            CommandInput(
                spec, make_pipeline(spec, kpis.get("packages"), skew), writer, checkpoint=checkpoint
            )
            for spec in specs
            if spec.type == "command"
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(i.run(), name=f"input:{i.spec.id}") for i in self.inputs]

    async def stop(self) -> None:
        for i in self.inputs:
            i.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> list[dict[str, Any]]:
        return [i.status() for i in self.inputs]

    def tailing(self, now: float) -> dict[str, list[dict[str, Any]]]:
        """The lag of the files of every file input, by input id."""
        return {i.spec.id: i.tailing(now) for i in self.inputs if isinstance(i, FileInput)}
