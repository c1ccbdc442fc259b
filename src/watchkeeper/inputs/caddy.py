"""Caddy's JSON access log, and the same line wrapped by Filebeat (in ``message``).

A line is counted by offspot's rules: a JSON object with ``level == "info"``,
``msg == "handled request"`` and ``request.host`` and ``request.uri`` present. Caddy 2.6 and
2.11 lines differ only where it does not matter here (2.11 adds ``client_ip``, and logs a
404 at ``info`` where 2.6 logged ``error``, so a 2.11 404 counts as a request, as it would
have under offspot). A line that is not JSON, or whose fields have the wrong types, is a
parse error; a well-formed line that fails the rules is skipped, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from watchkeeper.events.timefmt import MAX_TIME, parse_time


class LineError(ValueError):
    """A line that could not be read; the reason goes to the parse-error report."""


@dataclass(slots=True, frozen=True)
class AccessLine:
    """What the KPIs read of one counted request."""

    ts: float
    host: str
    uri: str
    method: str
    status: int
    content_type: str | None
    files_added: int | None
    files_deleted: int | None


def _first(headers: Any, name: str) -> str | None:
    """Caddy logs every header as a list of strings; offspot used the first one."""
    if not isinstance(headers, dict):
        return None
    value = headers.get(name)
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else None


def _count(headers: Any, name: str) -> int | None:
    text = _first(headers, name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def unwrap(item: Any) -> Any:
    """The Caddy entry inside a Filebeat event (its ``message``, a JSON string), else ``item``."""
    if isinstance(item, dict) and "message" in item and "level" not in item:
        message = item["message"]
        if not isinstance(message, str):
            raise LineError("Filebeat event whose 'message' is not a string")
        try:
            return orjson.loads(message)
        except orjson.JSONDecodeError:
            raise LineError("Filebeat 'message' is not JSON") from None
    return item


#: What routing a line depends on, and its time: ``(host, uri, method, status, content_type,
#: files_added, files_deleted)`` and ``ts``. Lines with the same key route the same way, so
#: the pipeline routes each key once.
Key = tuple[str, str, str, int, str | None, int | None, int | None]
_loads, _JSONError = orjson.loads, orjson.JSONDecodeError


def read(raw: bytes) -> tuple[float, Key] | None:
    """One line (without its newline): its time and routing key when offspot's rules count
    it, ``None`` when they skip it; raises :class:`LineError` when it is not a Caddy or
    Filebeat JSON line."""
    try:
        item = _loads(raw)
    except _JSONError:
        raise LineError("not JSON") from None
    if type(item) is not dict:
        raise LineError("not a JSON object")
    entry = unwrap(item) if "message" in item else item
    if type(entry) is not dict:
        return None
    if entry.get("level") != "info" or entry.get("msg") != "handled request":
        return None
    request = entry.get("request")
    if type(request) is not dict:
        return None
    host, uri = request.get("host"), request.get("uri")
    if type(host) is not str or type(uri) is not str:
        return None
    ts = entry.get("ts")
    if type(ts) is not float or not 0.0 < ts <= MAX_TIME:
        try:
            ts = parse_time(ts)
        except ValueError as exc:
            raise LineError(f"ts: {exc}") from None
    method = request.get("method")
    status = entry.get("status", 0)
    if type(status) is not int:
        raise LineError("status is not an integer")
    headers = entry.get("resp_headers")
    ctype = added = deleted = None
    if type(headers) is dict:
        ctype = headers.get("Content-Type")
        if ctype is not None:
            ctype = ctype[0] if type(ctype) is list and ctype and type(ctype[0]) is str else None
        # Only the file manager sends these: look further only when they are there.
        if "X-Tfm-Files-Added" in headers or "X-Tfm-Files-Deleted" in headers:
            added = _count(headers, "X-Tfm-Files-Added")
            deleted = _count(headers, "X-Tfm-Files-Deleted")
    method = method if type(method) is str else "GET"
    return ts, (host, uri, method, status, ctype, added, deleted)


def parse(raw: bytes) -> AccessLine | None:
    """:func:`read`, as an :class:`AccessLine`."""
    found = read(raw)
    return None if found is None else line_of(*found)


def line_of(ts: float, key: Key) -> AccessLine:
    return AccessLine(ts, *key)
