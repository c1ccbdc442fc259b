"""Lamia's own Python client (``lamia.monitoring.client``) driven against a server, every HTTP
request it makes logged: run by tests/lamia_record.py with the original's interpreter (it
needs the original's sources, ``requests`` and ``networkx``), not by the test suite.

    python tests/lamia_client_run.py <lamia sources> <monitoring address> <task name>

prints a JSON list of ``{"call", "method", "path", "body", "status"}``, ``status`` being the
final one after any redirect the client followed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import time
import types
import urllib.parse
from typing import Any

import networkx  # type: ignore[import-not-found]
import requests  # type: ignore[import-untyped]

sys.path.insert(0, sys.argv[1])
from lamia.monitoring.client import (  # type: ignore[import-not-found]  # noqa: E402
    get_api_description_from_path,
    instantiate_client_API,
)

LOG: list[dict[str, Any]] = []
CALL = [""]


def logged_connection() -> None:
    """``set_task_name`` uses a bare ``http.client`` connection."""
    original_request = http.client.HTTPConnection.request
    original_response = http.client.HTTPConnection.getresponse

    def request(self: Any, method: str, url: str, body: Any = None, *a: Any, **k: Any) -> Any:
        self._logged = {"call": CALL[0], "method": method, "path": url, "body": None}
        return original_request(self, method, url, body, *a, **k)

    def getresponse(self: Any) -> Any:
        response = original_response(self)
        entry = getattr(self, "_logged", None)
        if entry is not None and CALL[0] == "set_task_name":
            LOG.append({**entry, "status": response.status})
        return response

    http.client.HTTPConnection.request = request  # type: ignore[method-assign]
    http.client.HTTPConnection.getresponse = getresponse  # type: ignore[method-assign]


def logged_requests() -> None:
    original = requests.Session.request

    def request(self: Any, method: str, url: str, *a: Any, **k: Any) -> Any:
        response = original(self, method, url, *a, **k)
        first = response.history[0].request if response.history else response.request
        body = first.body.decode() if isinstance(first.body, bytes) else first.body
        LOG.append(
            {
                "call": CALL[0],
                "method": method.upper(),
                "path": urllib.parse.urlsplit(first.url).path
                + ("?" + urllib.parse.urlsplit(first.url).query if "?" in first.url else ""),
                "body": json.loads(body) if body else None,
                "status": response.status_code,
            }
        )
        return response

    requests.Session.request = request


def job(name: str, n: int, min_success: int | None = None) -> Any:
    """What ``follow_task`` reads of a ``lamia.backend.interface.Submission``."""
    graph = networkx.DiGraph()
    graph.add_node(name)
    return types.SimpleNamespace(
        jobName=name,
        nProcs=n,
        isImplicitArray=False,
        nImplicitJobs=1,
        minSuccess=min_success,
        dependencies=[],
        depGraph=graph,
    )


def main() -> None:
    address, task = sys.argv[2], sys.argv[3]
    url = urllib.parse.urlsplit(address)
    logged_connection()
    logged_requests()
    api = instantiate_client_API(*get_api_description_from_path(url.path))
    api.set_host(url.hostname, url.port)
    CALL[0] = "set_task_name"
    api.set_task_name(task)
    merge, gen = job("merge", 1), job("gen", 4, 2)
    merge.dependencies = [gen]
    api["tags"] = ["ci"]
    api["username"] = "crank"
    api["comment"] = "a client run"
    CALL[0] = "follow_task"
    api.follow_task([merge])
    CALL[0] = "set_task_name"
    with contextlib.suppress(KeyError):  # the name is taken now: the client says so
        api.set_task_name(task)
    meta = {"host": "wn1", "time": str(time.time())}
    for args in (("gen", 0), ("gen", 1), ("merge",)):
        CALL[0] = "job_event_address"
        requests.post(api.job_event_address(*args), json={"eventClass": "DONE", "_meta": meta})
    CALL[0] = "job_event_address + /event"
    requests.post(api.job_event_address("merge") + "/event", json={"eventClass": "DONE"})
    CALL[0] = "get_task_URI_base"
    requests.get(api.get_task_URI_base())
    print(json.dumps(LOG))


if __name__ == "__main__":
    main()
