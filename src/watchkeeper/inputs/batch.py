"""From lines read to one batch of events: what the lines produced plus an ``input.read``
event carrying the files' new offsets, so the writer commits both in one transaction."""

from __future__ import annotations

import time
from typing import Any

from watchkeeper.events import Event
from watchkeeper.inputs import caddy, levels, ndjson
from watchkeeper.inputs.caddy import LineError
from watchkeeper.inputs.indicators import TICK, Delta, Effect, Indicator
from watchkeeper.inputs.packages import Router
from watchkeeper.inputs.tail import Read

FORMATS = ("caddy", "ndjson", "levels")
#: Parse-error samples carried per batch (the report keeps the latest few per input).
SAMPLES_PER_BATCH = 5
SAMPLE_CHARS = 500
#: Seconds a line's timestamp may be ahead of the server's clock (``[kpis]
#: max_clock_skew_seconds``): a box switched off uncleanly may come back with its clock far in
#: the future, and one such line would make "now" that hour and prune every KPI by retention.
MAX_CLOCK_SKEW = 3600.0
#: Routing keys remembered (host, URI, method, status...); the cache starts over beyond.
ROUTES_CACHED = 100_000


class Pipeline:
    """Accumulates what an input's lines produce until :meth:`take` makes the batch."""

    def __init__(
        self,
        input_id: str,
        fmt: str,
        router: Router | None,
        indicators: tuple[Indicator, ...],
        max_skew: float = MAX_CLOCK_SKEW,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.input_id = input_id
        self.fmt = fmt
        self.router = router
        self.max_skew = max_skew
        self.delta = Delta(indicators)
        self.events: list[Event] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.samples: list[dict[str, Any]] = []
        self.lines = 0
        self._minute = -1
        self.levels = levels.Levels(input_id) if fmt == "levels" else None
        #: What each routing key adds to the indicators, worked out once per key.
        self._effects: dict[caddy.Key, tuple[Effect, ...]] = {}

    def feed(self, read: Read) -> None:
        entry = self.files.setdefault(
            read.fp, {"fp": read.fp, "lines": 0, "counted": 0, "errors": 0}
        )
        entry["path"], entry["offset"] = read.path, read.end
        if read.too_long:
            entry["errors"] += 1
            self._sample(read.path, read.start, "line too long", b"")
        if self.levels is not None:
            fed = self.levels.feed(read, time.time())
            lines, counted, errors = self._take_levels(read.path, fed)
            held = self.levels.held(read.fp)
            if held is not None:
                entry["offset"] = held
        elif self.fmt == "caddy":
            lines, counted, errors = self._feed_caddy(read)
        else:
            lines, counted, errors = self._feed_events(read)
        entry["lines"] += lines
        entry["counted"] += counted
        entry["errors"] += errors
        self.lines += len(read.lines)

    def _feed_events(self, read: Read) -> tuple[int, int, int]:
        offset, now = read.start, time.time()
        lines = counted = errors = 0
        for raw in read.lines:
            at, offset = offset, offset + len(raw) + 1
            if not raw or raw.isspace():
                continue
            lines += 1
            try:
                if self._line(raw, now, read.fp, at):
                    counted += 1
            except LineError as exc:
                errors += 1
                self._sample(read.path, at, str(exc), raw)
        return lines, counted, errors

    def _take_levels(self, path: str, fed: levels.Fed) -> tuple[int, int, int]:
        self.events.extend(fed.events)
        for problem in fed.problems:
            self._sample(path, problem.offset, problem.reason, problem.text.encode())
        return fed.lines, len(fed.events), len(fed.problems)

    def finish(self) -> None:
        """No more lines will come (a back-fill's end): what is still open is kept as is."""
        if self.levels is None:
            return
        for fp, (path, end, fed) in self.levels.finish().items():
            entry = self.files.setdefault(fp, {"fp": fp, "lines": 0, "counted": 0, "errors": 0})
            entry["path"], entry["offset"] = path, end
            _, counted, errors = self._take_levels(path, fed)
            entry["counted"] += counted
            entry["errors"] += errors

    def _feed_caddy(self, read: Read) -> tuple[int, int, int]:
        # The hot loop of the KPIs: one call per line (the parse); routing is looked up by
        # key, and the hour and minute are worked out only when the minute changes.
        parse, known, cells = caddy.read, self._effects, self.delta.cells
        offset = read.start
        blank = counted = errors = 0
        minute, hour, bit = -1.0, 0, 0
        # Judged per minute of the lines, against the server's clock of this read.
        now = time.time()
        limit, future = now + self.max_skew, False
        for raw in read.lines:
            at, offset = offset, offset + len(raw) + 1
            try:
                found = parse(raw)
            except LineError as exc:
                if raw.isspace() or not raw:
                    blank += 1
                else:
                    errors += 1
                    self._sample(read.path, at, str(exc), raw)
                continue
            if found is None:
                continue
            ts, key = found
            if ts // 60 != minute:
                minute = ts // 60
                future = minute * 60 > limit
                if not future:
                    hour, bit = int(ts // 3600) * 3600, 1 << (int(minute) % 60)
                    self.tick(ts)
            if future:
                errors += 1
                reason = (
                    f"stamped {ts - now:.0f} s ahead of the server's clock "
                    f"(max_clock_skew_seconds = {self.max_skew:g})"
                )
                self._sample(read.path, at, reason, raw)
                continue
            counted += 1
            effects = known.get(key)
            if effects is None:
                effects = self._route(ts, key)
            for ind, v0, v1, amount in effects:
                cell_key = (ind, hour, v0, v1)
                cell = cells.get(cell_key)
                if cell is None:
                    cells[cell_key] = [amount, bit]
                else:
                    cell[0] += amount
                    cell[1] |= bit
        return len(read.lines) - blank, counted, errors

    def _line(self, raw: bytes, now: float, fp: str, at: int) -> bool:
        # A line's id is its place in its content (a file's fingerprint): reading it twice,
        # by any input, stores it once.
        self.events.append(ndjson.parse(raw, now, f"line:{fp}:{at}"))
        return True

    def _route(self, ts: float, key: caddy.Key) -> tuple[Effect, ...]:
        if len(self._effects) >= ROUTES_CACHED:
            self._effects.clear()
        observations = self.router.route(caddy.line_of(ts, key)) if self.router else []
        effects = tuple(e for obs in observations for e in self.delta.effects(obs))
        self._effects[key] = effects
        return effects

    def tick(self, ts: float) -> None:
        """The server ran through this minute: offspot's clock tick, for uptime."""
        minute = int(ts // 60)
        if minute != self._minute:
            self._minute = minute
            self.delta.add(TICK, ts)

    def _sample(self, path: str, offset: int, reason: str, raw: bytes) -> None:
        if len(self.samples) < SAMPLES_PER_BATCH:
            line = raw[:SAMPLE_CHARS].decode("utf-8", "replace").replace("\x00", "\ufffd")
            self.samples.append({"path": path, "offset": offset, "reason": reason, "line": line})

    def pending(self) -> bool:
        return bool(self.files or self.delta or self.events)

    def take(self) -> list[Event]:
        """The batch for everything fed since the last one (empty when nothing was)."""
        if not self.pending():
            return []
        now = time.time()
        out = list(self.events)
        if self.delta:
            out.append(_event("kpi.delta", now, self.input_id, {"rows": self.delta.rows()}))
        files = list(self.files.values())
        read = {"input": self.input_id, "files": files, "samples": self.samples}
        out.append(_event("input.read", now, self.input_id, read))
        self.events, self.files, self.samples, self.lines = [], {}, [], 0
        self.delta.clear()
        return out


def _event(kind: str, now: float, input_id: str, attrs: dict[str, Any]) -> Event:
    return Event(
        kind=kind,
        ts=now,
        level="info",
        source=f"input:{input_id}",
        subject=None,
        attrs=attrs,
        body=attrs,
        received_at=now,
    )
