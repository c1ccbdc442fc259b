"""Generic events: ``{"kind": ..., ...}`` from any component.

Three kinds feed the built-in views and have canonical fields; any other kind is stored and
streamed as it is.

* ``task.status``: ``task``, ``status``, optional ``producer`` and ``agent``
* ``component.state``: ``type``, ``id``, ``state``, optional ``message``
* ``incident``: ``agent``, optional ``message``, ``last_state``, ``task``, ``subtask``,
  ``subtasks_left``, ``current_loc``, ``target_loc``, ``pings``

``metric.series`` is checked too (:mod:`watchkeeper.events.metric`): the metrics view folds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from watchkeeper.events import kinds, metric
from watchkeeper.events.fields import Fields
from watchkeeper.events.model import Event, Issue

KIND_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")


def translate(
    item: Mapping[str, Any], prefix: str, now: float, issues: list[Issue]
) -> Event | None:
    f = Fields(item, prefix, issues)
    before = len(issues)
    kind = item.get("kind")
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        f.fail("kind", "expected a name of letters, digits and . _ : - (at most 100)")
        return None
    ts = f.time("ts", "time", "datetime", default=now)
    level = f.level()
    source = f.text("source", max_len=200)
    subject = f.text("subject", max_len=200)
    attrs: dict[str, Any] = {}
    # Every field is read before any is refused, so one answer lists all of an item's issues.
    if kind == kinds.TASK_STATUS:
        task = f.ident("task", required=True)
        status = f.text("status", required=True, max_len=64)
        producer, agent = f.ident("producer"), f.ident("agent")
        if len(issues) > before:
            return None
        attrs = kinds.task_status(task, status, producer=producer, agent=agent)
        subject = subject or f"task:{task}"
    elif kind == kinds.COMPONENT_STATE:
        ctype = f.ident("type", required=True)
        cid = f.ident("id", required=True)
        state = f.text("state", required=True, max_len=64)
        message, loc = f.text("message"), f.text("loc", max_len=500)
        if len(issues) > before:
            return None
        attrs = kinds.component_state(ctype, cid, state, message=message, loc=loc)
        source = source or f"{ctype}:{cid}"
    elif kind == kinds.INCIDENT:
        agent = f.ident("agent", required=True)
        task = f.ident("task")
        pings = f.mapping("pings")
        attrs = kinds.incident(
            agent,
            message=f.text("message"),
            last_state=f.text("last_state", max_len=64),
            task=task,
            subtask=f.integer("subtask"),
            subtasks_left=f.integer("subtasks_left"),
            current_loc=f.text("current_loc", max_len=500),
            target_loc=f.text("target_loc", max_len=500),
            pings=dict(pings) if pings is not None else None,
        )
        source = source or f"agent:{agent}"
        subject = subject or (f"task:{task}" if task is not None else None)
    elif kind == metric.METRIC_SERIES:
        attrs = metric.translate(f) or {}
    if len(issues) > before:
        return None
    return Event(kind, ts, level, source, subject, attrs, item)
