"""A statsd aggregator, one per program, fed by its level-10 lines.

Wire format ``key:value|type[|@rate]``, one metric per line. Semantics as statsd's: counters
(``c``) are summed, scaled by the sample rate, and reset at each flush; gauges (``g``) keep
their last value and are reported at every flush, ``+x`` / ``-x`` move it; ``kv`` keeps the
last value until the flush; sets (``s``) count distinct values; timers (``ms``) report count,
mean, lower, upper, sum and the upper bound of the lowest N percent (``upper_90`` by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class Statsd:
    prefix: str
    percentile: int = 90
    counters: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    sets: dict[str, set[str]] = field(default_factory=dict)
    timers: dict[str, list[float]] = field(default_factory=dict)
    timer_counts: dict[str, float] = field(default_factory=dict)

    def feed(self, text: str) -> list[str]:
        """Aggregate every line of ``text``; the reasons of the lines refused."""
        errors = []
        for line in text.splitlines():
            line = line.strip()
            if line:
                error = self.feed_line(line)
                if error is not None:
                    errors.append(f"{line[:100]!r}: {error}")
        return errors

    def feed_line(self, line: str) -> str | None:
        key, sep, rest = line.partition(":")
        if not sep or not key:
            return "expected key:value|type"
        parts = rest.split("|")
        if len(parts) < 2:
            return "expected key:value|type"
        raw, kind = parts[0].strip(), parts[1].strip()
        rate = 1.0
        if len(parts) > 2 and parts[2].startswith("@"):
            try:
                rate = float(parts[2][1:])
            except ValueError:
                return f"invalid sample rate {parts[2]!r}"
            if not 0 < rate <= 1:
                return "sample rate must be in (0, 1]"
        if kind == "s":
            self.sets.setdefault(key, set()).add(raw)
            return None
        try:
            value = float(raw)
        except ValueError:
            return f"invalid value {raw!r}"
        if not math.isfinite(value):
            return f"invalid value {raw!r}"
        if kind == "c":
            self.counters[key] = self.counters.get(key, 0.0) + value / rate
        elif kind == "g":
            if raw[:1] in "+-":
                self.gauges[key] = self.gauges.get(key, 0.0) + value
            else:
                self.gauges[key] = value
        elif kind == "kv":
            self.values[key] = value
        elif kind == "ms":
            self.timers.setdefault(key, []).append(value)
            self.timer_counts[key] = self.timer_counts.get(key, 0.0) + 1 / rate
        else:
            return f"unknown type {kind!r} (c, g, kv, s, ms)"
        return None

    def flush(self) -> list[tuple[str, float]]:
        """The series since the last flush, named ``<prefix>.<key>[.<stat>]``; resets."""
        out: list[tuple[str, float]] = []
        p = f"{self.prefix}." if self.prefix else ""
        out += [(p + k, v) for k, v in self.counters.items()]
        out += [(p + k, v) for k, v in self.gauges.items()]
        out += [(p + k, v) for k, v in self.values.items()]
        out += [(p + k, float(len(v))) for k, v in self.sets.items()]
        for key, values in self.timers.items():
            out += [(f"{p}{key}.{stat}", v) for stat, v in self._timer(key, values)]
        self.counters.clear()
        self.values.clear()
        self.sets.clear()
        self.timers.clear()
        self.timer_counts.clear()
        return out

    def _timer(self, key: str, values: list[float]) -> list[tuple[str, float]]:
        ordered = sorted(values)
        total = sum(ordered)
        # statsd's threshold: the largest of the lowest round(pct% of n) values.
        within = max(1, math.floor(self.percentile / 100 * len(ordered) + 0.5))
        return [
            ("count", self.timer_counts[key]),
            ("mean", total / len(ordered)),
            ("lower", ordered[0]),
            ("upper", ordered[-1]),
            ("sum", total),
            (f"upper_{self.percentile}", ordered[within - 1]),
        ]
