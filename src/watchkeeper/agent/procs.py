"""Process groups and trees: stopping a run means stopping everything it started.

Each program runs in a session of its own (``start_new_session``), so its process group holds
the program and its children. A child that left the group (its own ``setsid``) is still
found through the process tree, collected before the first signal.
"""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def tree(pid: int) -> list[psutil.Process]:
    """The process ``pid`` and all its descendants that are still alive."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_all(
    pgid: int, procs: list[psutil.Process], own_child: int | None = None, timeout: float = 2.0
) -> None:
    """SIGKILL the group and every process of ``procs``, and wait until they are gone.

    ``own_child`` is not waited for here: it is the caller's child, and reaping it behind
    asyncio's back would lose its exit status.
    """
    signal_group(pgid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs([p for p in procs if p.pid != own_child], timeout=timeout)


def same_process(pid: int, create_time: float) -> bool:
    """Whether ``pid`` is still the process that started at ``create_time`` (not a reuse)."""
    try:
        return abs(psutil.Process(pid).create_time() - create_time) < 0.05
    except psutil.Error:
        return False


def create_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0
