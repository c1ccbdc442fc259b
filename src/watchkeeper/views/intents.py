"""Intents (seed 001): what the orchestrator asked for, and who answered, read from the state.

An intent lives at ``intents.<id>`` of the state document; hosts answer under its
``resolution``, one key per host. Hosts get a role (scraper, spotter...) from the prefix of their
name. The resolution rules are the seed's, applied to the document as it reads now (an expired
intent is gone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events.statedoc import MISSING
from watchkeeper.views.state import render

INTENTS_KEY = "intents"
#: The seed's host names: ``scraper_host`` and ``spotter_host``.
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {"scraper": ("scraper",), "spotter": ("spotter",)}


def role_of(host: str, roles: Mapping[str, Sequence[str]]) -> str | None:
    """The role whose longest prefix matches ``host``."""
    best: tuple[int, str] | None = None
    for role, prefixes in roles.items():
        for prefix in prefixes:
            if host.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), role)
    return best[1] if best else None


def resolve_intent(
    intent_id: str, intent: Any, roles: Mapping[str, Sequence[str]] = DEFAULT_ROLES
) -> dict[str, Any]:
    """The seed's resolution rules.

    No ``resolution``: ``no_answer``. Its keys are the hosts that answered. The scraper answered
    (and not the spotter): ``started_no_data``. Scraper and spotter answered: ``receiving``.
    Someone answered, but not the scraper: ``answered``.
    """
    resolution = intent.get("resolution") if isinstance(intent, dict) else None
    answered = sorted(resolution) if isinstance(resolution, dict) else []
    host_roles = {host: role_of(host, roles) for host in answered}
    present = set(host_roles.values())
    if not resolution:
        status = "no_answer"
    elif "scraper" in present and "spotter" in present:
        status = "receiving"
    elif "scraper" in present:
        status = "started_no_data"
    else:
        status = "answered"
    return {
        "id": intent_id,
        "status": status,
        "answered": answered,
        "roles": host_roles,
        "intent": intent,
    }


def intents(
    conn: sa.Connection, *, now: float, roles: Mapping[str, Sequence[str]] = DEFAULT_ROLES
) -> list[dict[str, Any]]:
    found = render(conn, now=now, path=(INTENTS_KEY,)).document
    if not isinstance(found, dict):
        return []
    return [resolve_intent(key, found[key], roles) for key in sorted(found)]


def intent(
    conn: sa.Connection,
    intent_id: str,
    *,
    now: float,
    roles: Mapping[str, Sequence[str]] = DEFAULT_ROLES,
) -> dict[str, Any] | None:
    found = render(conn, now=now, path=(INTENTS_KEY, intent_id)).document
    return None if found is MISSING else resolve_intent(intent_id, found, roles)
