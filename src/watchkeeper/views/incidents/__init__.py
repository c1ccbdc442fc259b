"""Incidents: what an agent reported when something went wrong, grouped by fingerprint.

The fingerprint groups incidents of the same kind across agents and tasks: the last state plus
the message with its numbers and identifiers masked, so "timeout after 31 s on lift 7" and
"timeout after 12 s on lift 3" fall into one group.
"""

from __future__ import annotations

from watchkeeper.views.incidents.fold import VIEW, IncidentsView, fingerprint, incidents
from watchkeeper.views.incidents.read import (
    around,
    cause,
    count_since,
    for_task,
    get_incident,
    groups,
    incident_dict,
    link,
    list_incidents,
)

__all__ = [
    "VIEW",
    "IncidentsView",
    "around",
    "cause",
    "count_since",
    "fingerprint",
    "for_task",
    "get_incident",
    "groups",
    "incident_dict",
    "incidents",
    "link",
    "list_incidents",
]
