"""Level-marked output: from bytes on a pipe to messages.

``N::text`` is one message at level N; ``N:::text`` opens a multiline message that a line of
exactly ``:::`` closes; any other line is level 1 on stdout and level 2 on stderr. Every
message is bounded in size: a longer line or multiline message is cut, and the cut is noted in
the message's ``error`` rather than dropped or allowed to exhaust memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from watchkeeper.agent import levels
from watchkeeper.agent.results import parse_result

_MARKER = re.compile(r"^(\d{1,9})(:{2,3})(.*)$", re.DOTALL)
_CLOSE = ":::"


@dataclass(slots=True)
class Message:
    """One parsed message; ``id`` is given when the agent accepts it."""

    level: int
    data: str
    epoch: float
    error: str | None = None
    result: Any = None
    id: int = 0


class LineSplitter:
    """Splits a byte stream into lines of at most ``max_line`` bytes.

    The head of a longer line is emitted (flagged) as soon as it is known to be too long and
    the rest is skipped up to the next newline, so a 1 GB line costs ``max_line`` bytes.
    """

    __slots__ = ("max_line", "_buf", "_skipping")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> list[tuple[bytes, bool]]:
        """The complete lines in ``chunk`` (with what came before), each with a cut flag."""
        out: list[tuple[bytes, bool]] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif self._buf:
                self._buf += chunk[start:end]
                self._emit(bytes(self._buf), out)
                self._buf.clear()
            else:
                self._emit(chunk[start:end], out)
            start = end + 1
        if not self._skipping and start < len(chunk):
            self._buf += chunk[start:]
            if len(self._buf) > self.max_line:
                out.append((bytes(self._buf[: self.max_line]), True))
                self._buf.clear()
                self._skipping = True
        return out

    def _emit(self, line: bytes, out: list[tuple[bytes, bool]]) -> None:
        if len(line) > self.max_line:
            out.append((line[: self.max_line], True))
        else:
            out.append((line, False))

    def close(self) -> list[tuple[bytes, bool]]:
        """What is left when the stream ends without a final newline."""
        rest, self._buf = bytes(self._buf), bytearray()
        skipping, self._skipping = self._skipping, False
        return [] if skipping or not rest else [(rest, False)]


class StreamParser:
    """Turns the lines of one stream (stdout or stderr) into messages."""

    __slots__ = ("plain_level", "max_bytes", "_open", "_size", "_fresh")

    def __init__(self, plain_level: int, max_bytes: int) -> None:
        self.plain_level = plain_level
        self.max_bytes = max_bytes
        self._open: Message | None = None
        self._size = 0
        #: The open message has no line yet (``N:::`` with nothing after the marker).
        self._fresh = False

    @property
    def is_open(self) -> bool:
        """A multiline message is open: the lines that follow belong to it."""
        return self._open is not None

    def line(self, raw: bytes, now: float, cut: bool = False) -> Message | None:
        """Parse one line (without its newline); a message when one is complete."""
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        note = f"line cut at {len(raw)} bytes" if cut else None
        current = self._open
        if current is not None:
            if text == _CLOSE:
                self._open = None
                return _finish(current)
            self._append(current, text, note)
            return None
        if not text:
            return None
        # Most lines are plain text: the first character rules the regex out cheaply.
        match = _MARKER.match(text) if "0" <= text[0] <= "9" else None
        if match is None or int(match.group(1)) > levels.MAX_LEVEL:
            return _finish(Message(self.plain_level, text, now, note))
        level = int(match.group(1))
        body = match.group(3)
        if len(match.group(2)) == 3:
            self._open = Message(level, body, now, note)
            self._size = len(body)
            self._fresh = not body
            return None
        return _finish(Message(level, body, now, note))

    def _append(self, message: Message, text: str, note: str | None) -> None:
        if self._size > self.max_bytes:
            return
        self._size += len(text) + 1
        if self._size > self.max_bytes:
            _note(message, f"multiline message longer than {self.max_bytes} bytes: cut")
            return
        message.data = text if self._fresh else f"{message.data}\n{text}"
        self._fresh = False
        if note:
            _note(message, note)

    def close(self) -> Message | None:
        """End of stream: an unterminated multiline message is kept, with the reason."""
        current, self._open = self._open, None
        if current is None:
            return None
        _note(current, "multiline message not closed by ':::' before the stream ended")
        return _finish(current)


def _note(message: Message, reason: str) -> None:
    message.error = reason if message.error is None else f"{message.error}; {reason}"


def _finish(message: Message) -> Message:
    if message.level in levels.RESULT_LEVELS:
        value, error = parse_result(message.level, message.data)
        message.result = value
        if error is not None:
            _note(message, error)
    return message
