"""A stopping server answers its long polls at once instead of holding them for its grace.

An agent long-polls for commands all the time and a caller may wait a minute for a result:
without this, every stop of a server with an agent connected would wait out the whole
shutdown grace (10 s) and then cut the polls off."""

from __future__ import annotations

import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

import httpx
import pytest

from tests.support import REDIS_ENV, ServerProcess, require_service

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": "Bearer admin-token-1"}
AGENT = {"Authorization": "Bearer agent-token-1"}
ENV = {"WATCHKEEPER_ADMIN_TOKEN": "admin-token-1", "WATCHKEEPER_AGENT_TOKEN": "agent-token-1"}


@pytest.fixture(params=["db", pytest.param("redis", marks=pytest.mark.redis)])
def queue_args(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "db":
        return []
    import redis

    url = require_service(REDIS_ENV, "Redis")
    redis.Redis.from_url(url).flushdb()
    return ["--redis", url]


def test_a_stopping_server_answers_its_long_polls(tmp_path, queue_args) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=ENV, args=queue_args)
    with server, ThreadPoolExecutor(2) as pool:
        queued = httpx.post(
            f"{server.url}/api/v1/commands",
            json={"gid": 1, "nid": 8, "cmd": "ping"},  # for an agent that never asks
            headers=ADMIN,
        ).json()["id"]
        url = server.url
        # Both polls would wait a minute (the longest the server allows by default).
        poll = pool.submit(httpx.get, f"{url}/api/v1/agents/1/7/cmd?wait=60", headers=AGENT,
                           timeout=90)  # fmt: skip
        wait = pool.submit(httpx.get, f"{url}/api/v1/commands/{queued}?wait=60", headers=ADMIN,
                           timeout=90)  # fmt: skip
        done, _ = wait_futures([poll, wait], timeout=1.0)
        assert not done  # both are waiting
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        # Answered, not cut off when the grace ran out: no command, and the record as it is.
        assert poll.result(timeout=8).status_code == 204
        record = wait.result(timeout=8)
        assert record.status_code == 200 and record.json()["state"] == "QUEUED"
        try:  # it ends by itself (uvicorn ends as the signal says), before its 10 s grace
            assert server.proc.wait(8) in (0, -signal.SIGTERM)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server held its shutdown for the long polls") from None
