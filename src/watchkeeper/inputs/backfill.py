"""``watchkeeper tail FILE...``: the inputs' pipeline run once over files, to back-fill
history. Hours are the lines' own: every hour the files complete becomes records and KPIs.
Offsets are committed with what the lines produced, under the input id ``tail``, so running
it again, or after a crash, goes on where it stopped rather than counting lines twice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence

from watchkeeper.inputs.batch import MAX_CLOCK_SKEW
from watchkeeper.inputs.runner import FileInput, make_pipeline
from watchkeeper.inputs.settings import InputSpec
from watchkeeper.store import db
from watchkeeper.store.writer import Writer
from watchkeeper.views import ALL_VIEWS

Progress = Callable[[int, int], None]


async def _run(
    files: Sequence[str],
    fmt: str,
    url: str,
    packages: str | None,
    input_id: str,
    checkpoint_lines: int,
    progress: Progress | None,
    max_skew: float,
) -> int:
    engine = db.make_engine(url, writer=True)
    db.upgrade(engine)
    writer = Writer(engine, ALL_VIEWS)
    await writer.start()
    spec = InputSpec(input_id, "file", fmt, paths=tuple(files))
    source = FileInput(spec, make_pipeline(spec, packages, max_skew), writer, engine, ticks=False)
    total = sum(os.path.getsize(f) for f in files)
    lines = 0
    try:
        source.follower = source._follower()
        while True:
            count = source.step()
            lines += count
            if not count:
                source.pipeline.finish()
            if source.pipeline.lines >= checkpoint_lines or not count:
                await source.flush()
            if progress is not None:
                progress(sum(t.offset for t in source.follower.tracked.values()), total)
            if not count:
                break
    finally:
        if source.follower is not None:
            source.follower.close()
        await writer.stop()
        engine.dispose()
    return lines


def backfill(
    files: Sequence[str],
    *,
    fmt: str = "caddy",
    url: str,
    packages: str | None = None,
    input_id: str = "tail",
    checkpoint_lines: int = 20_000,
    progress: Progress | None = None,
    max_skew: float = MAX_CLOCK_SKEW,
) -> int:
    """Read ``files`` to their end; the number of lines read."""
    return asyncio.run(
        _run(files, fmt, url, packages, input_id, checkpoint_lines, progress, max_skew)
    )
