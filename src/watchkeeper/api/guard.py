"""What a browser on the same machine can and cannot make the server do.

In anonymous loopback mode the server trusts whoever can reach it, and any web page the user
visits can reach it too: a cross-site form or ``fetch`` can post events, and a page whose
domain name is re-bound to 127.0.0.1 (DNS rebinding) could read the API. Every request passes
:meth:`Guard.refusal` before anything else runs (hot routes included), which refuses:

- a ``Host`` the server does not serve (421): loopback names and addresses, the address the
  server is bound to (any address literal when bound to all interfaces, and this machine's
  name), and ``allowed_hosts``. A re-bound name is the attacker's, so it is never among them;
- a state-changing request (anything but GET/HEAD/OPTIONS) from another origin (403): an
  ``Origin`` that is not this server, or ``Sec-Fetch-Site`` saying cross-site or same-site;
- a body under ``/api/`` that is neither JSON nor NDJSON (415). The types a page may send
  without asking (form encodings, ``text/plain``) are accepted under ``/api/v0`` and by the
  statsd route only from a client that is no browser (no ``Origin``, no ``Sec-Fetch-Site``),
  because Lamia's jobs may post with ``curl -d``, which labels its JSON as a form, and statsd
  lines are text.

Dashboard answers also carry :data:`PAGE_HEADERS` (a Content-Security-Policy that allows no
inline script and no framing, ``nosniff``, and a referrer policy).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import Message, Scope, Send

from watchkeeper.events.decode import NDJSON_TYPES

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = frozenset({"application/json", *NDJSON_TYPES})
#: What a page may send cross-origin without a preflight; JSON labelled as a form by a plain
#: ``curl -d``. Accepted under :data:`FORM_TOLERANT` from non-browser clients only.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "text/plain"})
#: Lamia's routes, and statsd lines (text, as statsd clients send them).
FORM_TOLERANT = ("/api/v0", "/api/v1/metrics/statsd")
#: The labels clients send most, recognised without decoding.
JSON_LABELS = frozenset(
    label
    for media in JSON_TYPES
    for label in (
        media.encode(),
        f"{media}; charset=utf-8".encode(),
        f"{media};charset=utf-8".encode(),
    )
)
#: Host values remembered with their verdict (a server is reached under a handful of names).
HOSTS_REMEMBERED = 256
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})

PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        # Plotly sets style attributes and injects <style> elements, and our templates colour
        # badges through style="--c: ..."; scripts come only from our own files. ReDoc (/redoc)
        # runs its search in a worker it builds from a blob.
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        b"worker-src 'self' blob:; "
        b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
#: Paths whose answers are not dashboard pages: the API keeps its own headers, and FastAPI's
#: interactive docs load their scripts inline and from a CDN, which the policy would block.
NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/metrics")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: str
    message: str
    path: str
    reason: str


class Guard:
    """The checks above, configured once from the settings."""

    def __init__(self, bound_host: str, allowed_hosts: Iterable[str] = ()) -> None:
        bound = bound_host.strip().strip("[]").lower()
        self.any_address = bound in WILDCARD_BINDS
        names = set(LOOPBACK_NAMES)
        if bound:
            names.add(bound)
        if self.any_address or not _is_loopback(bound):
            # This machine's own name cannot be re-bound by a stranger's page.
            names.add(socket.gethostname().lower())
        self.allow_any = False
        self.suffixes: list[str] = []
        self.extra: set[str] = set()
        for entry in allowed_hosts:
            entry = entry.strip().lower()
            if entry == "*":
                self.allow_any = True
            elif entry.startswith("."):
                self.suffixes.append(entry)
            elif entry:
                self.extra.add(entry.strip("[]"))
        self.names = frozenset(names | self.extra)
        self._verdicts: dict[bytes, bool] = {}

    # --- the checks ---------------------------------------------------------------------------

    def refusal(self, scope: Scope) -> Refusal | None:
        host = origin = content_type = fetch_site = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
            elif key == b"origin":
                origin = value
            elif key == b"content-type":
                content_type = value
            elif key == b"sec-fetch-site":
                fetch_site = value
        if host is not None and not self._serves(host):
            return Refusal(
                421,
                "misdirected",
                "this server does not answer for that host name; add it to allowed_hosts",
                "header.host",
                "not a host this server serves",
            )
        method = scope["method"]
        if method in SAFE_METHODS:
            return None
        if not self._same_origin(origin, fetch_site, host):
            return Refusal(
                403,
                "forbidden",
                "cross-origin requests may not change anything",
                "header.origin",
                "not this server's origin",
            )
        if method in BODY_METHODS and scope["path"].startswith("/api/"):
            return self._content_type(scope["path"], content_type, origin, fetch_site)
        return None

    def _serves(self, host: bytes) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            if len(self._verdicts) >= HOSTS_REMEMBERED:
                self._verdicts.clear()  # a client making up names: forget, stay bounded
            verdict = self._verdicts[host] = self.serves(host.decode("latin-1"))
        return verdict

    def serves(self, host: str) -> bool:
        name = _hostname(host)
        if name in self.names or self.allow_any:
            return True
        if name.endswith(".localhost"):
            return True  # RFC 6761: always loopback, never resolved through DNS
        if any(name.endswith(suffix) or name == suffix[1:] for suffix in self.suffixes):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        # An address literal cannot be re-bound; a server on all interfaces answers on each.
        return address.is_loopback or self.any_address

    def _same_origin(
        self, origin: bytes | None, fetch_site: bytes | None, host: bytes | None
    ) -> bool:
        if fetch_site in (b"cross-site", b"same-site"):
            return False
        if origin is None:
            return True
        parts = urlsplit(origin.decode("latin-1").strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null": a sandboxed frame, a file, a privacy-redirected request
        netloc = parts.netloc.lower()
        if host is not None and netloc == host.decode("latin-1").strip().lower():
            return True
        # A public name the operator declared (a proxy may rewrite Host on its way here).
        name = _hostname(netloc)
        return name in self.extra or any(name.endswith(s) or name == s[1:] for s in self.suffixes)

    @staticmethod
    def _content_type(
        path: str, value: bytes | None, origin: bytes | None, fetch_site: bytes | None
    ) -> Refusal | None:
        if value is None or value in JSON_LABELS:
            return None  # no type is read as JSON; a page cannot send one without an Origin
        media = value.decode("latin-1").split(";", 1)[0].strip().lower()
        if media in JSON_TYPES or media.endswith("+json"):
            return None
        browser = origin is not None or fetch_site is not None
        if media in FORM_TYPES and not browser and path.startswith(FORM_TOLERANT):
            return None
        return Refusal(
            415,
            "unsupported_media",
            "send JSON (application/json) or NDJSON (application/x-ndjson)",
            "header.content-type",
            f"{media or 'empty'} is not accepted here",
        )


def _hostname(host: str) -> str:
    """The name in a ``Host`` value or an origin's netloc, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    name, _, _ = host.partition(":")
    return name.rstrip(".")


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


def with_page_headers(send: Send) -> Send:
    """``send`` adding :data:`PAGE_HEADERS` to the response's start."""

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *PAGE_HEADERS]}
        await send(message)

    return sender
