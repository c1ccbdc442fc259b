"""A full disk under the agent's data directory: programs stay supervised, nothing is lost.

The data directory is a small tmpfs (mounting one needs root: the test is skipped without
it); a filler file takes every free byte while programs run, then goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.agent.harness import PY, events, finished, make_agent, runs
from watchkeeper.agent.runner import Agent

LINES = 3000


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "4m") -> Iterator[Path]:
    path.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    done = subprocess.run(mount, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of ``directory``'s filesystem."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    return filler


async def through_a_full_disk(agent: Agent, data: Path) -> tuple[int, int]:
    """Run ``agent``, fill its disk for a while, free it; the short program's runs before
    and during the full spell."""
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))

    async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert not task.done(), "the agent stopped by itself"
            assert time.monotonic() < deadline, "condition not reached in time"
            await asyncio.sleep(0.05)

    try:
        await until(lambda: agent.store.last_id() > 100)
        filler = fill(data)
        await until(lambda: agent.health.failing_since is not None)
        before = agent.programs["short"].runs
        await asyncio.sleep(3.0)
        during = agent.programs["short"].runs - before
        assert agent.health.failing_since is not None, "the disk was never full"
        filler.unlink()
        await until(lambda: agent.health.failing_since is None)
        await until(lambda: bool(finished(agent, "p")))
    finally:
        stop.set()
        await task
    return before, during


def test_full_disk_keeps_programs_supervised_and_loses_nothing(tmp_path):
    with small_filesystem(tmp_path / "data") as data:
        script = (
            "import sys, time\n"
            f"for i in range({LINES}):\n"
            "    print(f'line {i:05d} ' + 'y' * 300)\n"
            "    if i % 100 == 0: sys.stdout.flush(); time.sleep(0.05)\n"
        )
        agent = make_agent(
            tmp_path,
            {
                "p": {"command": PY, "args": ["-c", script], "autorestart": "never"},
                "short": {
                    "command": PY,
                    "args": ["-c", "pass"],
                    "autorestart": "always",
                },
            },
        )
        _before, during = asyncio.run(through_a_full_disk(agent, data))
        assert during >= 1  # still started again and again while nothing could be written
        assert agent.health.failures > 0
        with sqlite3.connect(data / "logs" / "current.db") as conn:
            stored = [
                row[0][:10]
                for row in conn.execute(
                    "SELECT data FROM logs WHERE jobid = '1.7/default/p/1' ORDER BY id"
                )
            ]
        assert stored == [f"line {i:05d}" for i in range(LINES)]  # each once, in order
        forwarded = [
            e["data"][:10] for e in events(agent, "log.record") if e["job"] == "1.7/default/p/1"
        ]
        assert forwarded == stored
        notes = [e.get("message") or "" for e in events(agent, "component.state")]
        assert any(n.startswith("cannot write") for n in notes)
        assert any(n.startswith("writing again") for n in notes)
        assert len(finished(agent, "p")) == 1 and finished(agent, "p")[0]["status"] == "success"
        # Run numbers counted on in memory while the journal was full, never reused.
        numbers = [int(task.rsplit("/", 1)[1]) for task in runs(agent, "short")]
        assert numbers == list(range(1, len(numbers) + 1))
