"""Python client for a watchkeeper server: send events and query tasks, agents and incidents.

``Client`` is synchronous (it also sends commands to agents: :mod:`watchkeeper.cmdclient`)
and ``AsyncClient`` its asyncio twin; both share request building
and error handling in :class:`_Protocol` so they cannot drift apart. Sending retries on
connection errors, 408, 429 and 5xx with the back-off of :mod:`watchkeeper.retry` (full jitter,
``Retry-After`` honoured, capped at ``max_backoff``); give events an ``event_id`` to make a
retried send idempotent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx
import orjson

from watchkeeper.cmdclient import CommandsMixin
from watchkeeper.retry import RETRY_STATUS, Backoff

DEFAULT_URL = "http://127.0.0.1:7070"


class WatchkeeperError(Exception):
    """The server refused a request; ``status`` and ``error`` are its answer."""

    def __init__(self, status: int, error: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', '')}")
        self.status = status
        self.error = error
        self.details: list[dict[str, Any]] = list(error.get("details", []))


def batches(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Protocol:
    """What both clients share: URLs, headers, body encoding and answer decoding."""

    def __init__(self, base_url: str, token: str | None, retries: int, backoff: Backoff) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retries = retries
        self.backoff = backoff

    @staticmethod
    def ndjson(batch: list[Any]) -> bytes:
        return b"\n".join(orjson.dumps(item) for item in batch) + b"\n"

    @staticmethod
    def params(filters: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in filters.items() if v is not None}

    @staticmethod
    def answer(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
            except ValueError:
                error = {"message": response.text[:200]}
            raise WatchkeeperError(response.status_code, error)
        return response.json()

    def retryable(self, attempt: int, response: httpx.Response | None) -> bool:
        if attempt >= self.retries:
            return False
        return response is None or response.status_code in RETRY_STATUS

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        return self.backoff.after(attempt, response)


class Client(CommandsMixin, _Protocol):
    """``Client("http://127.0.0.1:7070", token=...)``; use as a context manager or ``close()``.

    A send is tried ``retries`` more times after the first; before retry ``n`` it waits a random
    time in ``[0, min(max_backoff, backoff * 2**n)]``, and at least what ``Retry-After`` asks
    (capped at ``max_backoff``). ``rand`` (a float in ``[0, 1)``) and ``sleep`` are the
    randomness and the wait it uses.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 30.0,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, token, retries, Backoff(backoff, max_backoff, rand))
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _post_batch(self, path: str, batch: list[Any]) -> dict[str, Any]:
        body = self.ndjson(batch)
        attempt = 0
        while True:
            response = None
            try:
                response = self._http.post(
                    path, content=body, headers={"Content-Type": "application/x-ndjson"}
                )
            except httpx.TransportError:
                if not self.retryable(attempt, None):
                    raise
            if response is not None and not self.retryable(attempt, response):
                return self.answer(response)
            self._sleep(self.delay(attempt, response))
            attempt += 1

    def send(
        self,
        events: Iterable[Mapping[str, Any]] | Mapping[str, Any],
        *,
        batch_size: int = 1000,
        progress: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Send events in NDJSON batches; returns each batch's acknowledgement."""
        if isinstance(events, Mapping):
            events = [events]
        acks = []
        for batch in batches(events, batch_size):
            acks.append(self._post_batch("/api/v1/events", batch))
            if progress is not None:
                progress(len(batch))
        return acks

    def _get(self, path: str, **filters: Any) -> Any:
        return self.answer(self._http.get(path, params=self.params(filters)))

    def task(self, task_id: str | int) -> dict[str, Any]:
        return self._get(f"/api/v1/tasks/{task_id}")

    def tasks(self, **filters: Any) -> dict[str, Any]:
        return self._get("/api/v1/tasks", **filters)

    def agent(self, agent_id: str | int) -> dict[str, Any]:
        return self._get(f"/api/v1/agents/{agent_id}")

    def agents(self, **filters: Any) -> dict[str, Any]:
        return self._get("/api/v1/agents", **filters)

    def incidents(self, **filters: Any) -> dict[str, Any]:
        return self._get("/api/v1/incidents", **filters)

    def events(self, **filters: Any) -> dict[str, Any]:
        return self._get("/api/v1/events", **filters)

    def health(self) -> dict[str, Any]:
        return self._get("/healthz")


class AsyncClient(_Protocol):
    """The asyncio twin of :class:`Client`, with the same methods as coroutines."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 30.0,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(base_url, token, retries, Backoff(backoff, max_backoff, rand))
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post_batch(self, path: str, batch: list[Any]) -> dict[str, Any]:
        body = self.ndjson(batch)
        attempt = 0
        while True:
            response = None
            try:
                response = await self._http.post(
                    path, content=body, headers={"Content-Type": "application/x-ndjson"}
                )
            except httpx.TransportError:
                if not self.retryable(attempt, None):
                    raise
            if response is not None and not self.retryable(attempt, response):
                return self.answer(response)
            await self._sleep(self.delay(attempt, response))
            attempt += 1

    async def send(
        self, events: Iterable[Mapping[str, Any]] | Mapping[str, Any], *, batch_size: int = 1000
    ) -> list[dict[str, Any]]:
        if isinstance(events, Mapping):
            events = [events]
        return [
            await self._post_batch("/api/v1/events", batch) for batch in batches(events, batch_size)
        ]

    async def _get(self, path: str, **filters: Any) -> Any:
        return self.answer(await self._http.get(path, params=self.params(filters)))

    async def task(self, task_id: str | int) -> dict[str, Any]:
        return await self._get(f"/api/v1/tasks/{task_id}")

    async def tasks(self, **filters: Any) -> dict[str, Any]:
        return await self._get("/api/v1/tasks", **filters)

    async def agent(self, agent_id: str | int) -> dict[str, Any]:
        return await self._get(f"/api/v1/agents/{agent_id}")

    async def agents(self, **filters: Any) -> dict[str, Any]:
        return await self._get("/api/v1/agents", **filters)

    async def incidents(self, **filters: Any) -> dict[str, Any]:
        return await self._get("/api/v1/incidents", **filters)

    async def events(self, **filters: Any) -> dict[str, Any]:
        return await self._get("/api/v1/events", **filters)
