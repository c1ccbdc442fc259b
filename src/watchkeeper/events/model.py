"""The one event model every input is translated into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Levels in increasing severity; anything received is normalised onto this scale.
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")


@dataclass(slots=True)
class Event:
    """An immutable fact.

    ``attrs`` holds what watchkeeper understood of the message (the normalised fields the views
    read), ``body`` holds what was sent, verbatim, so unknown fields are never lost and every view
    can be rebuilt from the log alone.
    """

    kind: str
    ts: float
    level: str
    source: str | None
    subject: str | None
    attrs: dict[str, Any]
    body: Any
    event_id: str | None = None
    received_at: float = 0.0
    seq: int | None = field(default=None)


@dataclass(slots=True, frozen=True)
class Issue:
    """One reason an input was refused: where (a JSON path) and why."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class InvalidBatch(Exception):
    """Raised when any item of a batch is invalid; nothing of the batch is stored."""

    def __init__(self, issues: list[Issue], message: str = "invalid events") -> None:
        super().__init__(message)
        self.issues = issues
        self.message = message
