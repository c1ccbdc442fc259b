"""Typed field readers shared by the format translators.

Each reader either returns a value or appends an :class:`Issue` naming the field path, so a
translator reports every bad field of an item at once instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from watchkeeper.events.model import LEVELS, Issue
from watchkeeper.events.timefmt import parse_time

_LEVEL_ALIASES = {
    "warn": "warning",
    "err": "error",
    "fatal": "critical",
    "crit": "critical",
    "trace": "debug",
    "notice": "info",
}
_MISSING = object()

#: The range of an integer field: what a 64-bit integer column holds on every backend.
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
#: PostgreSQL text cannot hold NUL, so no text that reaches a column may (on any backend).
NUL = "\x00"
NUL_REASON = "must not contain NUL (\\u0000) characters"
_DIGITS = re.compile(r"[-+]?[0-9]{1,19}")


def int_from_text(text: str, *, low: int = MIN_INT) -> int | None:
    """An integer written in ASCII digits (a query or path parameter), from ``low`` up to
    :data:`MAX_INT`; ``None`` for anything else.

    ``int()`` alone takes other scripts' digits (``'١٢'``) and fails on some that
    ``str.isdigit`` accepts (``'²'``); this takes exactly what a column can hold.
    """
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if low <= number <= MAX_INT else None


def int_reason(value: object) -> str | None:
    """Why ``value`` is not an integer field watchkeeper can store, or ``None`` if it is."""
    if type(value) is not int:  # exactly int: a bool is not an integer here
        return "expected an integer"
    if not MIN_INT <= value <= MAX_INT:
        return f"expected an integer from {MIN_INT} to {MAX_INT}, got {value}"
    return None


class Fields:
    """Reads fields of one JSON object, collecting issues under a path prefix."""

    __slots__ = ("obj", "prefix", "issues")

    def __init__(self, obj: Mapping[str, Any], prefix: str, issues: list[Issue]) -> None:
        self.obj = obj
        self.prefix = prefix
        self.issues = issues

    def path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, reason: str) -> None:
        self.issues.append(Issue(self.path(name), reason))

    def ident(self, name: str, *, required: bool = False) -> str | None:
        """An identifier: a non-empty string or an integer, kept as text."""
        value = self.obj.get(name, _MISSING)
        kind = type(value)
        if kind is str:
            text = value
        elif kind is int:  # exactly int: a bool is not an identifier
            text = str(value)
        elif value is _MISSING or value is None:
            if required:
                self.fail(name, "field required")
            return None
        elif isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(name, "expected an integer or a string identifier")
            return None
        else:
            text = str(value)
        if not text or len(text) > 200:
            self.fail(name, "identifier must be 1 to 200 characters")
            return None
        if NUL in text:
            self.fail(name, NUL_REASON)
            return None
        return text

    def text(self, name: str, *, required: bool = False, max_len: int = 10_000) -> str | None:
        value = self.obj.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(name, "field required")
            return None
        if not isinstance(value, str):
            self.fail(name, "expected a string")
            return None
        if required and not value:
            self.fail(name, "must not be empty")
            return None
        if len(value) > max_len:
            self.fail(name, f"longer than {max_len} characters")
            return None
        if NUL in value:
            self.fail(name, NUL_REASON)
            return None
        return value

    def integer(self, name: str) -> int | None:
        value = self.obj.get(name)
        if value is None:
            return None
        reason = int_reason(value)
        if reason is not None:
            self.fail(name, reason)
            return None
        return value

    def mapping(self, name: str) -> Mapping[str, Any] | None:
        value = self.obj.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(name, "expected an object")
            return None
        return value

    def time(self, *names: str, default: float) -> float:
        """The first of ``names`` present, parsed as a time; ``default`` if none is."""
        for name in names:
            value = self.obj.get(name)
            if value is None:
                continue
            try:
                return parse_time(value)
            except ValueError as exc:
                self.fail(name, str(exc))
                return default
        return default

    def level(self, name: str = "level") -> str:
        value = self.obj.get(name)
        if value is None:
            return "info"
        level = normalise_level(value)
        if level is None:
            self.fail(name, f"unknown level {value!r}: expected one of {', '.join(LEVELS)}")
            return "info"
        return level


#: Level names as they are usually sent, mapped without any string work.
_EXACT_LEVELS = {
    **{name: name for name in LEVELS},
    **{name.upper(): name for name in LEVELS},
    **_LEVEL_ALIASES,
    **{alias.upper(): name for alias, name in _LEVEL_ALIASES.items()},
}


def normalise_level(value: object) -> str | None:
    """Map a level name or a Python logging number onto :data:`LEVELS`."""
    if type(value) is str:
        exact = _EXACT_LEVELS.get(value)
        if exact is not None:
            return exact
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        index = min(max(value // 10 - 1, 0), len(LEVELS) - 1)
        return LEVELS[index]
    if isinstance(value, str):
        name = value.strip().lower()
        name = _LEVEL_ALIASES.get(name, name)
        return name if name in LEVELS else None
    return None
