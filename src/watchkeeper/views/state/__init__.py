"""The live state (seed 001): one deep-merged JSON document kept durably, row per key.

Tables (all derived from ``state.shard`` events, rebuilt exactly by ``watchkeeper db rebuild``):

* ``state_nodes``: one row per key of the document, by its JSON Pointer: an object (``obj``), a
  plain value (``val``, JSON text) or a counter (``ctr``), with its expiry. Descendants of a key
  are a range of the primary key, so replacing or deleting a subtree is one indexed delete.
* ``state_counters``: per counter and per source, the PN pair ``(p, n)`` of increments and
  decrements, and the ``seq`` of the last shard counted. Shards are applied once, in ``seq``
  order, in the same transaction that logs them; the ``seq`` guard additionally makes applying
  the same events twice count once.
* ``state_totals``: counts of expired keys, folded per source at the key's path with the expired
  key replaced by ``*`` (so a stream of short-lived keys stays bounded).
* ``state_errors``: the error report, per source and key path.

Shards are applied in ``seq`` order, so the last writer wins by commit order. This is the
sequential reading of the CRDT in :mod:`watchkeeper.events.statedoc` (the tests check that both
give the same document).

Expiry is decided by event time: a key given a time to live of ``t`` seconds by a shard of event
time ``ts`` expires at ``ts + t``. Reads hide it from then on (by the server clock) and fold its
counts into the totals. Compaction (deleting expired keys and storing their folded counts) runs
before applying a shard, when some key has expired by the whole second the shard was received
in. Both times are in the log, so a rebuild compacts at exactly the same points.
"""

from __future__ import annotations

from watchkeeper.views.state.fold import VIEW, StateView
from watchkeeper.views.state.read import counter_list, errors, next_expiry, render
from watchkeeper.views.state.tables import state_counters, state_errors, state_nodes, state_totals

__all__ = [
    "VIEW",
    "StateView",
    "counter_list",
    "errors",
    "next_expiry",
    "render",
    "state_counters",
    "state_errors",
    "state_nodes",
    "state_totals",
]
