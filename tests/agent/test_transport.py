"""The agent's HTTP sessions against a real server, a closed port and a silent one."""

from __future__ import annotations

import asyncio
import socket

import psutil
import pytest

from tests.support import ServerProcess, free_port
from watchkeeper.agent.transport import UNREACHABLE, Answer, Session, describe, proxy_from_env


def connections_to(port: int) -> set[int]:
    """The local ports of this process's open connections to ``port``."""
    return {
        c.laddr.port
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


def test_requests_share_one_kept_alive_connection_and_answers_are_whole(tmp_path):
    async def talk(server: ServerProcess) -> tuple[list[Answer], Answer, set[int], set[int]]:
        session = Session(server.url + "/", token=None, timeout=10)
        try:
            health = [await session.get("/healthz") for _ in range(5)]
            refused = await session.post("/api/v1/events", b"[]")
            used = connections_to(server.port)
        finally:
            await session.aclose()
        return health, refused, used, connections_to(server.port)

    with ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}") as server:
        health, refused, used, after_close = asyncio.run(talk(server))
    assert [a.status for a in health] == [200] * 5
    assert isinstance(health[0].json(), dict)
    assert refused.status == 422  # an empty batch, read as JSON
    assert refused.json()["error"]["details"][0]["path"] == "$"  # the forwarder reads these
    assert len(used) == 1
    assert after_close == set()


def test_a_closed_port_and_a_silent_server_raise_what_the_senders_catch():
    async def ask(url: str, timeout: float) -> None:
        session = Session(url, token=None, timeout=timeout)
        try:
            await session.get("/healthz")
        finally:
            await session.aclose()

    with pytest.raises(UNREACHABLE):
        asyncio.run(ask(f"http://127.0.0.1:{free_port()}", 10))
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(UNREACHABLE) as waited:
            asyncio.run(ask(f"http://127.0.0.1:{silent.getsockname()[1]}", 0.2))
    # What the agent logs names the error even when its message is empty.
    assert describe(waited.value).startswith(type(waited.value).__name__)
    assert describe(TimeoutError()) == "TimeoutError"


def test_the_proxy_comes_from_the_environment_once(monkeypatch):
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_from_env("http://monitor:7070") == {}
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@proxy:3128")
    monkeypatch.setenv("NO_PROXY", "monitor,.internal")
    assert proxy_from_env("http://monitor:7070") == {}
    assert proxy_from_env("http://wk.internal:7070") == {}
    assert proxy_from_env("https://elsewhere:7070") == {}  # HTTPS_PROXY names none
    chosen = proxy_from_env("http://elsewhere:7070")
    assert str(chosen["proxy"]) == "http://proxy:3128"
    assert (chosen["proxy_auth"].login, chosen["proxy_auth"].password) == ("user", "secret")
