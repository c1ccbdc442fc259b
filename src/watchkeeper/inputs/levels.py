"""Level-marked lines (``N::text``, as the agent's programs write them) to ``log.record``
events, by the agent's own parser: ``N:::text`` opens a multiline message that a line of
exactly ``:::`` closes, and any other line is a message of its own at level 1, as the agent
keeps stdout.

A multiline message may span reads and batches, so each file keeps its parser while a
message is open, and the offset committed for the file stays at that message's first line:
after a crash the whole message is read again, and a message is known by where it starts
(``line:<fingerprint>:<offset>``), so what was stored before is not stored twice. At the end
of a back-fill a message still open is kept as it is, its ``error`` and a parse-error sample
saying it was not closed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from watchkeeper.agent import levels
from watchkeeper.agent.parser import Message, StreamParser
from watchkeeper.events import Event
from watchkeeper.events.decode import translate_item
from watchkeeper.events.model import Issue
from watchkeeper.inputs.tail import Read

MAX_MESSAGE = 64 * 1024
#: Level of the lines without a mark (the agent's stdout level).
PLAIN_LEVEL = 1


@dataclass(slots=True)
class Problem:
    """A message stored with an error: where it starts, why, and its text."""

    offset: int
    reason: str
    text: str


@dataclass(slots=True)
class Fed:
    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0


@dataclass(slots=True)
class _File:
    parser: StreamParser
    path: str
    #: Offset of the first line of the open message, and after the last line read.
    start: int = 0
    end: int = 0


class Levels:
    """The messages of the files of one input."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._open: dict[str, _File] = {}

    def feed(self, read: Read, now: float) -> Fed:
        state = self._open.pop(read.fp, None) or _File(
            StreamParser(PLAIN_LEVEL, MAX_MESSAGE), read.path
        )
        state.path = read.path
        parser, out = state.parser, Fed()
        offset = read.start
        for raw in read.lines:
            at, offset = offset, offset + len(raw) + 1
            if raw.strip():
                out.lines += 1
            if not parser.is_open:
                state.start = at
            message = parser.line(raw, now)
            if message is not None:
                self._emit(message, read.fp, state, out)
        state.end = offset
        if parser.is_open:
            self._open[read.fp] = state
        return out

    def held(self, fp: str) -> int | None:
        """Where the open message of a file starts: its committed offset may not pass it."""
        state = self._open.get(fp)
        return None if state is None else state.start

    def finish(self) -> dict[str, tuple[str, int, Fed]]:
        """No more lines will come (a back-fill's end): the open messages as they are, by
        fingerprint, with each file's path and the offset after its last line."""
        out: dict[str, tuple[str, int, Fed]] = {}
        for fp, state in self._open.items():
            fed = Fed()
            message = state.parser.close()
            if message is not None:
                self._emit(message, fp, state, fed)
            out[fp] = (state.path, state.end, fed)
        self._open.clear()
        return out

    def _emit(self, message: Message, fp: str, state: _File, out: Fed) -> None:
        issues: list[Issue] = []
        event = translate_item(
            {
                "kind": "log.record",
                "ts": message.epoch,
                "level": levels.event_level(message.level),
                "source": f"input:{self.source}",
                "agent": f"input:{self.source}",
                "name": os.path.basename(state.path)[:200],
                "log_level": message.level,
                "data": message.data,
                "error": message.error,
            },
            "",
            message.epoch,
            issues,
        )
        if event is None:
            out.problems.append(
                Problem(state.start, "; ".join(i.reason for i in issues), message.data)
            )
            return
        # A message is known by where it starts in its content: read twice, stored once.
        event.event_id = f"line:{fp}:{state.start}"
        out.events.append(event)
        if message.error is not None:
            out.problems.append(Problem(state.start, message.error, message.data))
