"""What a view is, as the writer sees it: a consumer of committed events that keeps its own
tables.

A view is updated inside the writer's transaction, batch by batch, so its tables always agree
with the log; :func:`watchkeeper.store.rebuild.rebuild` replays the log through the same
``apply`` to recompute it from nothing. The store never chooses the views: whoever composes
the server hands them to the writer and to the rebuild, and names them by
:func:`load_views`'s ``module:attribute`` where a process of its own must import them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from watchkeeper.events import Event

T = TypeVar("T")

#: What a view answers for the events it folded, by ``seq``: JSON values (numbers, strings,
#: booleans, lists, objects, null), which the writer hands to the request that stored the event
#: in its acknowledgement (:attr:`~watchkeeper.store.writerbase.Ack.results`), from the writer
#: process as from the in-process writer. ``None`` answers nothing.
Results = Mapping[int, Any] | None

#: How many keys go into one ``IN (...)`` lookup; below SQLite's parameter limit.
CHUNK = 500


class View(Protocol):
    # Read-only, so a view may declare them as plain class attributes of narrower types.
    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds of event ``apply`` is given."""

    @property
    def tables(self) -> tuple[sa.Table, ...]:
        """Its tables, parents first: a rebuild empties them in reverse order."""

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> Results:
        """Fold ``events`` (in ``seq`` order, all of a kind in ``kinds``) into the tables, and
        optionally answer some of them (:data:`Results`): what a request can only learn from
        the fold, such as a Lamia job's progress after its event. No two views answer for the
        same event."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_views(ref: str) -> tuple[View, ...]:
    """The views named by ``ref``, ``"package.module:attribute"`` (a sequence of views)."""
    module, _, attribute = ref.partition(":")
    if not module or not attribute:
        raise ValueError(f"views are named as 'module:attribute', not {ref!r}")
    return tuple(getattr(importlib.import_module(module), attribute))
