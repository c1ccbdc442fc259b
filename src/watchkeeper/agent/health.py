"""Whether the agent's files take writes: a full disk is noted once, and its end once.

While the journal or the log store cannot be written (a full disk, a read-only remount), the
agent keeps supervising its programs and keeps what it captured in memory, its readers
slowed down to the flusher's retries; this records how many writes failed and says when the
trouble starts and ends, instead of a traceback a second.
"""

from __future__ import annotations

import time


class WriteHealth:
    def __init__(self) -> None:
        #: Failed flushes since the agent started (reported in its state events).
        self.failures = 0
        self.failing_since: float | None = None

    def failed(self, what: str, exc: BaseException) -> str | None:
        """Count a failed write; the message to report when this starts a failing spell."""
        self.failures += 1
        if self.failing_since is not None:
            return None
        self.failing_since = time.time()
        return f"cannot write {what} ({exc}); holding messages in memory and retrying"

    def succeeded(self) -> str | None:
        """The message to report when a write succeeds after a failing spell."""
        if self.failing_since is None:
            return None
        seconds = time.time() - self.failing_since
        self.failing_since = None
        return f"writing again after {seconds:.0f} s ({self.failures} failed writes in all)"
