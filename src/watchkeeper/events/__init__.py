"""The event model and the translation of every external format into events.

Each external format has exactly one module here; the rest of the system only sees
:class:`Event` objects.
"""

from watchkeeper.events.model import LEVELS, Event, InvalidBatch, Issue

__all__ = ["LEVELS", "Event", "Issue", "InvalidBatch"]
