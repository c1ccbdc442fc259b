"""Process statistics: each program with all its children, summed per domain/name.

CPU % is measured between two samples, so the :class:`Sampler` keeps the ``psutil.Process``
of every process it has seen (keyed by pid and start time, so a reused pid starts afresh).
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil

from watchkeeper.agent.procs import tree

#: The statistics of one sample, in the order they are reported.
FIELDS = ("cpu", "rss", "vms", "threads", "open_files", "processes")


class Sampler:
    def __init__(self) -> None:
        self._known: dict[tuple[int, float], psutil.Process] = {}

    def sample(self, roots: Iterable[int]) -> dict[str, float]:
        """The summed statistics of the processes ``roots`` and all their descendants."""
        totals = dict.fromkeys(FIELDS, 0.0)
        seen: set[tuple[int, float]] = set()
        for root in roots:
            for proc in tree(root):
                try:
                    with proc.oneshot():
                        key = (proc.pid, proc.create_time())
                        if key in seen:
                            continue
                        known = self._known.setdefault(key, proc)
                        memory = known.memory_info()
                        totals["cpu"] += known.cpu_percent(None)
                        totals["rss"] += memory.rss
                        totals["vms"] += memory.vms
                        totals["threads"] += known.num_threads()
                        totals["open_files"] += _open_files(known)
                        totals["processes"] += 1
                        seen.add(key)
                except psutil.Error:
                    continue  # it ended between listing and reading: nothing to count
        # Forget processes that have ended so the cache does not grow without bound.
        self._known = {key: proc for key, proc in self._known.items() if key in seen}
        return totals


def _open_files(proc: psutil.Process) -> int:
    """Open file descriptors (files, pipes, sockets): what runs out first."""
    try:
        return proc.num_fds()
    except (psutil.Error, AttributeError):  # num_fds is POSIX only
        try:
            return len(proc.open_files())
        except psutil.Error:
            return 0
