"""The statsd aggregator, shared by the agent (one per program, fed by its level-10 lines) and
the server's statsd input (UDP and HTTP).

Wire format: ``key:value|type[|@rate][|#tag:value,tag2]``, one metric per line, several lines
per packet; a line may carry several values for one key (``key:1|c:2|ms``, as statsd reads
it). Semantics are statsd's: counters (``c``) are summed, scaled by the sample rate, and reset
at each flush; gauges (``g``) keep their last value and are reported at every flush, ``+x`` /
``-x`` move it; ``kv`` keeps the last value until the flush; sets (``s``) count distinct
values; timers (``ms``, ``h``, ``d``) report count (scaled by the sample rate), mean, lower,
upper, sum and, for each configured percentile N, the statistics of the lowest N percent
(``upper_90``, ``mean_90``). DogStatsD tags become the series' labels.

A series is flushed as ``(name, value, tags)``, the name ``<prefix>.<key>[.<stat>]``.
Malformed lines are counted, a few of them kept as samples, and never stop the rest.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

#: A flushed series: name, value, tags (None without any).
Series = tuple[str, float, dict[str, str] | None]

TIMER_TYPES = frozenset({"ms", "h", "d"})
#: Longest key accepted (the series name adds the prefix and a statistic).
MAX_KEY = 150
#: Distinct keys (with their tags) one flush holds; further new keys are dropped and counted.
MAX_KEYS = 100_000
#: Malformed lines kept as samples until read.
SAMPLES = 20


def _key(name: str, tags: str) -> str:
    # One string per (name, tags): the agent writes sampled values straight into ``values``.
    return f"{name}|#{tags}" if tags else name


def _split_key(key: str) -> tuple[str, dict[str, str] | None]:
    name, sep, tags = key.partition("|#")
    if not sep:
        return name, None
    out = {}
    for tag in tags.split(","):
        k, _, v = tag.partition(":")
        out[k] = v
    return name, out


def _tags(text: str) -> str | None:
    """DogStatsD tags in a canonical order (``a:1,b``); a bare tag has an empty value."""
    tags = {}
    for tag in text.split(","):
        tag = tag.strip()
        if not tag:
            continue
        k, _, v = tag.partition(":")
        if not k or len(tag) > 200:
            return None
        tags[k] = v
    return ",".join(f"{k}:{v}" for k, v in sorted(tags.items()))


@dataclass(slots=True)
class Statsd:
    prefix: str = ""
    percentiles: Sequence[float] = (90,)
    #: What each percentile reports (of ``upper``, ``mean``, ``sum``, ``count``): the agent's
    #: programs report ``upper_N`` as the original did, the server's input adds ``mean_N``.
    percentile_stats: Sequence[str] = ("upper",)
    counters: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    sets: dict[str, set[str]] = field(default_factory=dict)
    timers: dict[str, list[float]] = field(default_factory=dict)
    timer_counts: dict[str, float] = field(default_factory=dict)
    #: Lines aggregated and lines refused since the start; the latest refusals.
    lines: int = 0
    malformed: int = 0
    dropped: int = 0
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=SAMPLES))

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
        error = self._line(line)
        if error is None:
            self.lines += 1
        else:
            self.malformed += 1
            self.samples.append(f"{line[:100]!r}: {error}")
        return error

    def _line(self, line: str) -> str | None:
        tags = ""
        if "|#" in line:
            line, _, tag_text = line.partition("|#")
            found = _tags(tag_text)
            if found is None:
                return "invalid tags"
            tags = found
        name, sep, rest = line.partition(":")
        if not sep or not name:
            return "expected key:value|type"
        if len(name) > MAX_KEY:
            return f"key longer than {MAX_KEY} characters"
        key = _key(name, tags)
        for chunk in rest.split(":"):
            error = self._value(key, chunk)
            if error is not None:
                return error
        return None

    def _value(self, key: str, chunk: str) -> str | None:
        parts = chunk.split("|")
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
        if self._full(key):
            self.dropped += 1
            return None
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
        elif kind in TIMER_TYPES:
            self.timers.setdefault(key, []).append(value)
            self.timer_counts[key] = self.timer_counts.get(key, 0.0) + 1 / rate
        else:
            return f"unknown type {kind!r} (c, g, kv, s, ms, h, d)"
        return None

    def _full(self, key: str) -> bool:
        """Whether ``key`` is new and the flush already holds :data:`MAX_KEYS` keys."""
        held = len(self.counters) + len(self.gauges) + len(self.sets) + len(self.timers)
        if held < MAX_KEYS:
            return False
        return not any(key in d for d in (self.counters, self.gauges, self.sets, self.timers))

    def flush(self) -> list[Series]:
        """The series since the last flush; resets all but gauges."""
        out: list[Series] = []
        p = f"{self.prefix}." if self.prefix else ""

        def put(key: str, value: float, stat: str = "") -> None:
            name, tags = _split_key(key)
            out.append((f"{p}{name}{'.' + stat if stat else ''}", value, tags))

        for source in (self.counters, self.gauges, self.values):
            for key, value in source.items():
                put(key, value)
        for key, members in self.sets.items():
            put(key, float(len(members)))
        for key, values in self.timers.items():
            for stat, value in self._timer(key, values):
                put(key, value, stat)
        self.counters.clear()
        self.values.clear()
        self.sets.clear()
        self.timers.clear()
        self.timer_counts.clear()
        return out

    def take_samples(self) -> list[str]:
        taken = list(self.samples)
        self.samples.clear()
        return taken

    def _timer(self, key: str, values: list[float]) -> list[tuple[str, float]]:
        ordered = sorted(values)
        total = sum(ordered)
        stats = [
            ("count", self.timer_counts[key]),
            ("mean", total / len(ordered)),
            ("lower", ordered[0]),
            ("upper", ordered[-1]),
            ("sum", total),
        ]
        for pct in self.percentiles:
            # statsd's threshold: the lowest round(pct% of n) values; none is no statistic.
            within = math.floor(pct / 100 * len(ordered) + 0.5) if len(ordered) > 1 else 1
            if within == 0:
                continue
            suffix = f"{pct:g}".replace(".", "_")
            chosen = {
                "upper": ordered[within - 1],
                "mean": sum(ordered[:within]) / within,
                "sum": sum(ordered[:within]),
                "count": float(within),
            }
            stats += [(f"{stat}_{suffix}", chosen[stat]) for stat in self.percentile_stats]
        return stats
