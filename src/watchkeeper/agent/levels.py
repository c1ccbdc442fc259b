"""Message levels of the output protocol, and the filter syntax that selects them.

A filter is written as the original agent wrote it: ``*`` (every level but statsd), a list
``1,2,3``, a range ``1-5``, or a mix ``1,2,6-9``; a list of integers is accepted as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

STDOUT = 1
STDERR = 2
PUBLIC = 3
OPERATOR = 4
UNKNOWN = 5
STRUCTURED = 6
WARNING = 7
OPS_ERROR = 8
CRITICAL = 9
STATSD = 10
RESULT_JSON = 20
RESULT_YAML = 21
RESULT_TOML = 22
RESULT_HRD = 23
JOB = 30
#: Levels whose message is a result of the run (the last one becomes the run's result).
RESULT_LEVELS = frozenset({RESULT_JSON, RESULT_YAML, RESULT_TOML, RESULT_HRD, JOB})
#: The highest level a ``N::`` marker may carry; larger numbers are ordinary text.
MAX_LEVEL = 99

#: How a message level maps onto the server's event levels.
_EVENT_LEVELS = {WARNING: "warning", OPS_ERROR: "error", CRITICAL: "critical", STATSD: "debug"}


def event_level(level: int) -> str:
    return _EVENT_LEVELS.get(level, "info")


@dataclass(frozen=True, slots=True)
class LevelFilter:
    """Which message levels pass. ``levels is None`` means ``*``."""

    levels: frozenset[int] | None
    text: str = "*"

    def __contains__(self, level: object) -> bool:
        if self.levels is None:
            # As in the original, "*" never includes statsd lines: they are metrics, not logs.
            return level != STATSD
        return level in self.levels


ALL = LevelFilter(None, "*")


def parse_levels(spec: str | int | Sequence[int] | None) -> LevelFilter:
    """Parse ``*``, ``1,2,3``, ``1-5`` (or a list of integers); raises ``ValueError``."""
    if spec is None:
        return ALL
    if isinstance(spec, bool):
        raise ValueError("expected '*', a list like '1,2,3' or a range like '1-5'")
    if isinstance(spec, int):
        return LevelFilter(frozenset({_level(str(spec))}), str(spec))
    if not isinstance(spec, str):
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in spec):
            raise ValueError("a list of levels must hold integers")
        if not spec:
            return ALL
        return LevelFilter(frozenset(_level(str(x)) for x in spec), ",".join(map(str, spec)))
    text = spec.strip()
    if text in ("*", ""):
        return ALL
    levels: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if dash:
            first, last = _level(low), _level(high)
            if first > last:
                raise ValueError(f"range {part.strip()!r} runs backwards")
            levels.update(range(first, last + 1))
        else:
            levels.add(_level(low))
    return LevelFilter(frozenset(levels), text)


def _level(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 0 <= int(text) <= MAX_LEVEL:
        raise ValueError(f"level {text!r} is not a number from 0 to {MAX_LEVEL}")
    return int(text)
