"""The navigation bar: every page family registers its entries here.

A new page is a router, a template and a :class:`NavEntry` in its module's ``NAV``; the base
template draws the bar from :func:`entries`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavEntry:
    key: str
    label: str
    path: str
    #: Position in the bar, lowest first.
    order: int = 100
    #: Whether the page has the shared time-window control.
    windowed: bool = True
