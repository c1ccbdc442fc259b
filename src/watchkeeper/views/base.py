"""What views share beyond the contract the writer holds them to
(:class:`watchkeeper.store.view.View`) and the way they fold (:mod:`watchkeeper.store.fold`):
lookups in chunks, and JSON columns."""

from __future__ import annotations

from typing import Any

import orjson

# ``chunks`` lives with the writer, which looks event ids up in chunks too; views take it from here.
from watchkeeper.store.view import chunks

__all__ = ["chunks", "dumps", "loads"]


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None
