"""Lamia clients' requests, as test helpers (seed 003)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient


def create(client: TestClient, task: str, processes: dict[str, Any], **fields: Any) -> Any:
    r = client.post(f"/api/v0/{task}", json={"processes": processes, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def post(
    client: TestClient,
    task: str,
    proc: str,
    event_class: str,
    index: int | None = None,
    *,
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    """One job event; returns the answer (``created``, ``id``, ``progress``, ``enough``)."""
    params = {} if index is None else {"arrayIndex": index}
    r = client.post(
        f"/api/v0/{task}/{proc}/event", params=params, json={"eventClass": event_class, **fields}
    )
    assert r.status_code == expect, r.text
    return r.json()


def log_size(client: TestClient) -> int:
    """Events in the log: what a refused request must leave unchanged."""
    return len(client.get("/api/v1/events", params={"limit": 10000}).json()["events"])


def errors(response: Any) -> list[dict[str, Any]]:
    return response.json()["errors"]
