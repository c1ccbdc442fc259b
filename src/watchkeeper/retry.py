"""When to send a request again: exponential back-off with full jitter, honouring ``Retry-After``.

One policy for every sender (:mod:`watchkeeper.client`, :mod:`watchkeeper.logging`, the agent's
forwarder). A fleet that lost its server retries all at once when it comes back; with exact
doubling every sender would keep retrying at the same instants and hit the server in waves. Full
jitter draws each delay uniformly from ``[0, min(cap, base * 2**attempt)]``, which spreads the
retries over the whole window. A ``Retry-After`` answer (seconds or an HTTP date) is a floor:
the sender waits at least that long, plus its jitter so that senders told the same thing still
spread out, and never more than ``cap``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Protocol

#: Answers worth retrying: the request may succeed later as it is.
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})

# 2**60 times any sensible base is far above any cap; beyond it the float would overflow.
_MAX_EXPONENT = 60


class Answered(Protocol):
    """An HTTP answer of any client library (httpx's, the agent's aiohttp one)."""

    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Backoff:
    """``delay(attempt)`` is how long to wait before retry number ``attempt + 1``.

    ``random`` returns a float in ``[0, 1)`` and ``clock`` epoch seconds (to read an HTTP date);
    tests pass their own.
    """

    base: float = 0.2
    cap: float = 30.0
    random: Callable[[], float] = field(default=random.random, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError("base and cap must be positive")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        window = min(self.cap, self.base * 2 ** min(max(attempt, 0), _MAX_EXPONENT))
        jitter = self.random() * window
        if retry_after is None:
            return jitter
        return min(self.cap, retry_after + jitter)

    def after(self, attempt: int, response: Answered | None) -> float:
        """The delay after a failed attempt; ``response`` is ``None`` when there was none."""
        hint = None
        if response is not None:
            hint = retry_after(response.headers.get("retry-after"), self.clock())
        return self.delay(attempt, hint)


def retry_after(value: str | None, now: float) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait (``None`` if absent or unreadable).

    It is either a number of seconds or an HTTP date; a date in the past means no wait.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
