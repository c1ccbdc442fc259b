"""From lines read to one batch of events: what the lines produced plus an ``input.read``
event carrying the files' new offsets, so the writer commits both in one transaction."""

from __future__ import annotations

import time
from typing import Any

from watchkeeper.events import Event
from watchkeeper.inputs import caddy, levels, ndjson
from watchkeeper.inputs.caddy import LineError
from watchkeeper.inputs.indicators import TICK, Delta, Indicator
from watchkeeper.inputs.packages import Router
from watchkeeper.inputs.tail import Read

FORMATS = ("caddy", "ndjson", "levels")
#: Parse-error samples carried per batch (the report keeps the latest few per input).
SAMPLES_PER_BATCH = 5
SAMPLE_CHARS = 500


class Pipeline:
    """Accumulates what an input's lines produce until :meth:`take` makes the batch."""

    def __init__(
        self, input_id: str, fmt: str, router: Router | None, indicators: tuple[Indicator, ...]
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.input_id = input_id
        self.fmt = fmt
        self.router = router
        self.delta = Delta(indicators)
        self.events: list[Event] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.samples: list[dict[str, Any]] = []
        self.lines = 0
        self._minute = -1

    def feed(self, read: Read) -> None:
        entry = self.files.setdefault(
            read.fp, {"fp": read.fp, "lines": 0, "counted": 0, "errors": 0}
        )
        entry["path"], entry["offset"] = read.path, read.end
        if read.too_long:
            entry["errors"] += 1
            self._sample(read.path, read.start, "line too long", b"")
        offset = read.start
        now = time.time()
        for raw in read.lines:
            at, offset = offset, offset + len(raw) + 1
            if not raw.strip():
                continue
            entry["lines"] += 1
            try:
                if self._line(raw, now, f"{self.input_id}:{read.fp}:{at}"):
                    entry["counted"] += 1
            except LineError as exc:
                entry["errors"] += 1
                self._sample(read.path, at, str(exc), raw)
        self.lines += len(read.lines)

    def _line(self, raw: bytes, now: float, event_id: str) -> bool:
        if self.fmt == "caddy":
            line = caddy.parse(raw)
            if line is None:
                return False
            minute = int(line.ts // 60)
            if minute != self._minute:  # the box was on in that minute
                self._minute = minute
                self.delta.add(TICK, line.ts)
            if self.router is not None:
                for obs in self.router.route(line):
                    self.delta.add(obs, line.ts)
            return True
        if self.fmt == "ndjson":
            self.events.append(ndjson.parse(raw, now, event_id))
            return True
        event = levels.parse(raw, now, event_id, self.input_id)
        if event is not None:
            self.events.append(event)
        return event is not None

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
