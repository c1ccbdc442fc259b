"""Indicators: what is counted per hour, offspot's ids (1001-1999), and the delta a batch of
lines adds to them.

An indicator is a small class: an ``id``, a ``rule`` saying how its hourly value is made
(``sum``: the amounts added; ``slots``: 10 x the 10-minute activity slots, aligned on the
first active minute, offspot's ``UsageRecorder``; ``minutes``: the active minutes) and
``observe``, which says which dimensions an observation adds to. Users add their own through
the ``watchkeeper.indicators`` entry point group. The minute-based rules keep the active
minutes of the hour as a 60-bit mask, so folding two deltas of the same hour is an OR and
the order lines arrive in does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Protocol

from watchkeeper.inputs.packages import Observation

RULES = ("sum", "slots", "minutes")
Dims = tuple[str, str]
Effect = tuple[int, str, str, int]
NO_DIMS: Dims = ("", "")


class Indicator(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def rule(self) -> str: ...

    def observe(self, obs: Observation) -> Iterable[tuple[Dims, int]]:
        """The dimensions ``obs`` adds to, with the amount (ignored by minute rules)."""


class PackageHomeVisit:
    id = 1001
    rule = "sum"

    def observe(self, obs: Observation) -> Iterator[tuple[Dims, int]]:
        if obs.what == "home":
            yield (obs.package, ""), 1


class ContentItemVisit:
    """The seed's top items (KPI 2002): ZIM pages, PDFs and EPUBs read."""

    id = 1002
    rule = "sum"

    def observe(self, obs: Observation) -> Iterator[tuple[Dims, int]]:
        if obs.what == "item":
            yield (obs.package, obs.detail), 1


class SharedFilesOperations:
    id = 1003
    rule = "sum"

    def observe(self, obs: Observation) -> Iterator[tuple[Dims, int]]:
        if obs.what == "files":
            yield (obs.detail, ""), obs.count


class Uptime:
    """Minutes the box was on: a minute counts when a line was logged in it or the server
    ran through it (offspot's clock ticks)."""

    id = 1004
    rule = "minutes"

    def observe(self, obs: Observation) -> Iterator[tuple[Dims, int]]:
        if obs.what == "tick":
            yield NO_DIMS, 1


class TotalUsageOverall:
    id = 1005
    rule = "slots"

    def observe(self, obs: Observation) -> Iterator[tuple[Dims, int]]:
        if obs.what == "request":
            yield NO_DIMS, 1


class TotalUsageByPackage:
    id = 1006
    rule = "slots"

    def observe(self, obs: Observation) -> Iterator[tuple[Dims, int]]:
        if obs.what == "request":
            yield (obs.package, ""), 1


BUILTIN: tuple[Indicator, ...] = (
    PackageHomeVisit(),
    ContentItemVisit(),
    SharedFilesOperations(),
    Uptime(),
    TotalUsageOverall(),
    TotalUsageByPackage(),
)
TICK = Observation("tick", "")


def load() -> tuple[Indicator, ...]:
    """The built-in indicators and those installed packages declare."""
    found: list[Indicator] = list(BUILTIN)
    for entry in entry_points(group="watchkeeper.indicators"):
        loaded = entry.load()
        indicator = loaded() if isinstance(loaded, type) else loaded
        if not 1001 <= indicator.id <= 1999 or indicator.rule not in RULES:
            raise ValueError(f"indicator {entry.name}: id 1001-1999 and rule in {RULES}")
        found.append(indicator)
    ids = [i.id for i in found]
    if len(ids) != len(set(ids)):
        raise ValueError(f"indicator ids must be unique: {sorted(ids)}")
    return tuple(found)


class Delta:
    """What lines add to the indicators, per (indicator, hour, dimensions): an amount and a
    mask of active minutes. ``rows`` is its compact form, carried by one event."""

    __slots__ = ("indicators", "cells", "_rules")

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        self.indicators = tuple(indicators)
        self._rules = {i.id: i.rule for i in self.indicators}
        self.cells: dict[tuple[int, int, str, str], list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.cells)

    def effects(self, obs: Observation) -> list[Effect]:
        """What ``obs`` adds: ``(indicator, value0, value1, amount)`` per dimension."""
        return [
            (indicator.id, v0, v1, amount)
            for indicator in self.indicators
            for (v0, v1), amount in indicator.observe(obs)
        ]

    def add(self, obs: Observation, ts: float) -> None:
        self.apply(self.effects(obs), ts)

    def apply(self, effects: Iterable[Effect], ts: float) -> None:
        hour = int(ts // 3600) * 3600
        bit = 1 << (int(ts // 60) % 60)
        cells = self.cells
        for ind, v0, v1, amount in effects:
            key = (ind, hour, v0, v1)
            cell = cells.get(key)
            if cell is None:
                cells[key] = [amount, bit]
            else:
                cell[0] += amount
                cell[1] |= bit

    def rows(self) -> list[list[object]]:
        """``[indicator, hour, value0, value1, amount, bits, rule]`` per cell."""
        return [
            [ind, hour, v0, v1, amount, bits, self._rules[ind]]
            for (ind, hour, v0, v1), (amount, bits) in sorted(self.cells.items())
        ]

    def clear(self) -> None:
        self.cells = {}
