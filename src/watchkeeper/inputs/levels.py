"""Level-marked lines (``N::text``, as the agent's programs write them): one ``log.record``
event per line, level N; any other line is kept at level 1, as the agent does for stdout."""

from __future__ import annotations

from watchkeeper.agent import levels
from watchkeeper.agent.parser import StreamParser
from watchkeeper.events import Event
from watchkeeper.events.decode import translate_item
from watchkeeper.events.model import Issue
from watchkeeper.inputs.caddy import LineError

MAX_MESSAGE = 64 * 1024


def parse(raw: bytes, now: float, event_id: str, source: str) -> Event | None:
    parser = StreamParser(1, MAX_MESSAGE)
    # A multiline message (N:::) spans lines: each line is read on its own here, so its
    # marker line is kept as it is rather than held open across batches.
    message = parser.line(raw, now) or parser.close()
    if message is None:
        return None
    issues: list[Issue] = []
    event = translate_item(
        {
            "kind": "log.record",
            "ts": now,
            "level": levels.event_level(message.level),
            "source": f"input:{source}",
            "log_level": message.level,
            "data": message.data,
        },
        "",
        now,
        issues,
    )
    if event is None:
        raise LineError("; ".join(i.reason for i in issues))
    event.event_id = event_id
    return event
