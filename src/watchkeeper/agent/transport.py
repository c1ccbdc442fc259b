"""The agent's HTTP to its server: one aiohttp session per sender, opened on first use.

The agent talks to the server all day (a long poll per command, a post per result, a batch of
events every few seconds), so the cost of a request is CPU the agent takes from the programs it
supervises: aiohttp spends about a fifth of what httpx does per request (docs/performance.md).
An aiohttp session belongs to the event loop it was made in, hence the late opening; its
keep-alive connections are reused until :meth:`Session.aclose`.

An answer is read in full before it is returned, which gives its connection back to the pool.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import yarl

#: What a request raises when the server is away, too slow or drops the connection.
UNREACHABLE = (aiohttp.ClientError, asyncio.TimeoutError, OSError)

_JSON = {"Content-Type": "application/json"}


def describe(exc: BaseException) -> str:
    """One line for a log: a timeout's message is empty, and aiohttp's reprs are long."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not."""
        return orjson.loads(self.body)


class Session:
    """Requests to ``server``; ``timeout`` bounds the connection (pool wait included) and
    each wait for the server's bytes, not the whole exchange, so a long poll may last."""

    def __init__(self, server: str, token: str | None, timeout: float) -> None:
        self.base_url = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self.proxy = proxy_from_env(self.base_url)
        self._session: aiohttp.ClientSession | None = None

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Answer:
        return await self._request("GET", path, params=params)

    async def post(self, path: str, body: bytes) -> Answer:
        """Post ``body``, already JSON."""
        return await self._request("POST", path, data=body, headers=_JSON)

    async def _request(self, method: str, path: str, **options: Any) -> Answer:
        if self._session is None or self._session.closed:
            # No cookies: the agent authenticates with its token, and the jar's filtering
            # costs every request.
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=self.timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        # The server's redirects are not followed: an agent is configured with its real address.
        async with self._session.request(
            method, self.base_url + path, allow_redirects=False, **self.proxy, **options
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def proxy_from_env(url: str) -> dict[str, Any]:
    """The proxy for ``url`` that ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY`` name, as
    request options (none without one). Read once: aiohttp's ``trust_env`` would read them, and
    ``~/.netrc``, again in a thread for every request."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or not parts.hostname or urllib.request.proxy_bypass(parts.netloc):
        return {}
    address = yarl.URL(proxy)
    return {"proxy": address.with_user(None), "proxy_auth": aiohttp.BasicAuth.from_url(address)}
