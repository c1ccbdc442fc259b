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

from watchkeeper.events.timefmt import parse_time


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


def parse(raw: bytes) -> AccessLine | None:
    """One line (without its newline): the request it counts, ``None`` when offspot's rules
    skip it; raises :class:`LineError` when it is not a Caddy or Filebeat JSON line."""
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise LineError("not JSON") from None
    if not isinstance(item, dict):
        raise LineError("not a JSON object")
    entry = unwrap(item)
    if not isinstance(entry, dict):
        return None
    if entry.get("level") != "info" or entry.get("msg") != "handled request":
        return None
    request = entry.get("request")
    if not isinstance(request, dict):
        return None
    host, uri = request.get("host"), request.get("uri")
    if not isinstance(host, str) or not isinstance(uri, str):
        return None
    try:
        ts = parse_time(entry.get("ts"))
    except ValueError as exc:
        raise LineError(f"ts: {exc}") from None
    method = request.get("method")
    status = entry.get("status", 0)
    if not isinstance(status, int) or isinstance(status, bool):
        raise LineError("status is not an integer")
    headers = entry.get("resp_headers")
    return AccessLine(
        ts=ts,
        host=host,
        uri=uri,
        method=method if isinstance(method, str) else "GET",
        status=status,
        content_type=_first(headers, "Content-Type"),
        files_added=_count(headers, "X-Tfm-Files-Added"),
        files_deleted=_count(headers, "X-Tfm-Files-Deleted"),
    )
