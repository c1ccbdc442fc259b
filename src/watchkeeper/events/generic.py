"""Generic events: ``{"kind": ..., ...}`` from any component.

Three kinds feed the built-in views and have canonical fields; any other kind is stored and
streamed as it is.

* ``task.status``: ``task``, ``status``, optional ``producer`` and ``agent``
* ``component.state``: ``type``, ``id``, ``state``, optional ``message``
* ``incident``: ``agent``, optional ``message``, ``last_state``, ``task``, ``subtask``,
  ``subtasks_left``, ``current_loc``, ``target_loc``, ``pings``
* ``log.record``: ``agent``, ``data``, optional ``job``, ``domain``, ``name``, ``epoch``,
  ``id``, ``log_level`` (0 to 999, default 5), ``error``

``metric.series`` is checked too (:mod:`watchkeeper.events.metric`): the metrics view folds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from watchkeeper.events import kinds, metric
from watchkeeper.events.fields import NUL, Fields
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
    elif kind == kinds.LOG_RECORD:
        attrs = _log_record(f, ts)
        source = source or f"agent:{attrs['agent']}"
    elif kind == metric.METRIC_SERIES:
        attrs = metric.translate(f) or {}
    if len(issues) > before:
        return None
    return Event(kind, ts, level, source, subject, attrs, item)


#: The longest message text a log record may carry (the agent cuts what it forwards shorter).
MAX_LOG_DATA = 1024 * 1024


def _log_record(f: Fields, ts: float) -> dict[str, Any]:
    log_level = f.integer("log_level")
    if log_level is not None and not 0 <= log_level <= 999:
        f.fail("log_level", "expected a level from 0 to 999")
    return kinds.log_record(
        f.ident("agent", required=True) or "",
        job=f.ident("job"),
        domain=f.text("domain", max_len=200),
        name=f.text("name", max_len=200),
        epoch=f.time("epoch", default=ts),
        rid=f.integer("id"),
        log_level=5 if log_level is None else log_level,
        data=_output(f, "data", required=True) or "",
        error=_output(f, "error"),
    )


def _output(f: Fields, name: str, *, required: bool = False) -> str | None:
    """Text a program wrote: may be empty, and may hold NUL, which no column can, so it is
    shown as U+FFFD (the body keeps what was sent)."""
    value = f.obj.get(name)
    if value is None:
        if required:
            f.fail(name, "field required")
        return None
    if not isinstance(value, str):
        f.fail(name, "expected a string")
        return None
    if len(value) > MAX_LOG_DATA:
        f.fail(name, f"longer than {MAX_LOG_DATA} characters")
        return None
    return value.replace(NUL, "\ufffd") if NUL in value else value
