"""What views share beyond the contract the writer holds them to
(:class:`watchkeeper.store.view.View`) and the way they fold (:mod:`watchkeeper.store.fold`):
lookups in chunks, runs of events between two of a kind, and JSON columns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from watchkeeper.events import Event

# ``chunks`` lives with the writer, which looks event ids up in chunks too; views take it from here.
from watchkeeper.store.view import chunks

__all__ = ["chunks", "dumps", "loads", "runs_between"]


def runs_between(events: Sequence[Event], kind: str) -> Iterator[tuple[list[Event], Event | None]]:
    """The events between two of ``kind``, each run with the event of ``kind`` that ends it
    (``None`` after the last): a view folds a run, then does what that event asks, in order."""
    run: list[Event] = []
    for event in events:
        if event.kind == kind:
            yield run, event
            run = []
        else:
            run.append(event)
    yield run, None


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None
