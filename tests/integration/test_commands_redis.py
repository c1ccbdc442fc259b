"""Two real servers sharing one real Redis, and the original client's protocol over raw Redis."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

from tests.support import REDIS_ENV, ServerProcess, require_service

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ADMIN = {"Authorization": "Bearer admin-token-1"}
AGENT = {"Authorization": "Bearer agent-token-1"}
ENV = {"WATCHKEEPER_ADMIN_TOKEN": "admin-token-1", "WATCHKEEPER_AGENT_TOKEN": "agent-token-1"}


@pytest.fixture
def redis_url() -> str:
    import redis

    url = require_service(REDIS_ENV, "Redis")
    redis.Redis.from_url(url).flushdb()
    return url


def test_two_replicas_share_the_queues(tmp_path, redis_url) -> None:
    servers = [
        ServerProcess(str(tmp_path / f"wk{n}.db"), env=ENV, args=["--redis", redis_url])
        for n in (1, 2)
    ]
    with servers[0] as one, servers[1] as two:
        ids = []
        for n in range(3):
            answer = httpx.post(
                f"{one.url}/api/v1/commands",
                json={"gid": 2, "nid": 3, "cmd": "ping", "data": str(n)},
                headers=ADMIN,
            )
            assert answer.status_code == 202
            ids.append(answer.json()["id"])
        taken = []
        for _ in ids:  # the agent polls the other server, and gets them in order
            command = httpx.get(f"{two.url}/api/v1/agents/2/3/cmd?wait=5", headers=AGENT).json()
            taken.append(command["id"])
            result = {**command, "state": "SUCCESS", "level": 20, "data": "pong"}
            posted = httpx.post(f"{two.url}/api/v1/agents/2/3/result", json=result, headers=AGENT)
            assert posted.status_code == 200
        assert taken == ids
        for server in (one, two):
            record = httpx.get(f"{server.url}/api/v1/commands/{ids[0]}?wait=5", headers=ADMIN)
            assert (record.json()["state"], record.json()["data"]) == ("SUCCESS", "pong")
        listed = httpx.get(f"{one.url}/api/v1/commands?gid=2&nid=3", headers=ADMIN).json()
        assert [c["id"] for c in listed["commands"]] == ids[::-1]
        events = httpx.get(f"{one.url}/api/v1/events?kind=command.sent", headers=ADMIN).json()
        assert len(events["events"]) == 3


def test_the_original_clients_protocol_over_raw_redis(tmp_path, redis_url) -> None:
    import redis

    raw = redis.Redis.from_url(redis_url)
    with ServerProcess(str(tmp_path / "wk.db"), env=ENV, args=["--redis", redis_url]) as server:
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for n, cid in enumerate(ids):  # as acclient.Client.cmd does it
            command = {"id": cid, "gid": 4, "nid": 5, "cmd": "ping", "args": {}, "data": str(n)}
            raw.lpush("cmds_queue", orjson.dumps(command))
        taken = []
        for _ in ids:
            command = httpx.get(f"{server.url}/api/v1/agents/4/5/cmd?wait=5", headers=AGENT).json()
            taken.append(command["id"])
            result = {**command, "state": "SUCCESS", "level": 20, "data": "pong"}
            httpx.post(f"{server.url}/api/v1/agents/4/5/result", json=result, headers=AGENT)
        assert taken == ids  # arrival order (the original delivered them last first)
        popped = raw.blpop([f"cmds_queue_{ids[0]}"], timeout=5)  # as Cmd.get_result does
        assert popped is not None
        result = orjson.loads(popped[1])
        assert (result["id"], result["state"], result["data"]) == (ids[0], "SUCCESS", "pong")
        assert 0 < raw.ttl(f"cmds_queue_{ids[1]}") <= 86400
        record = httpx.get(f"{server.url}/api/v1/commands/{ids[0]}", headers=ADMIN).json()
        assert (record["via"], record["sent_by"]) == ("redis", "redis")
        sent = httpx.get(f"{server.url}/api/v1/events?kind=command.sent", headers=ADMIN).json()
        assert {e["body"]["via"] for e in sent["events"]} == {"redis"}


def test_a_burst_from_the_original_client_arrives_whole_and_in_order(tmp_path, redis_url) -> None:
    """More commands than one move takes (``MOVE_BATCH``), pushed before the server starts,
    and one malformed among them: the rest reach the agent in arrival order, each audited."""
    import redis

    from watchkeeper.store.cmdredis import MOVE_BATCH

    raw = redis.Redis.from_url(redis_url)
    ids = [f"burst-{n}" for n in range(MOVE_BATCH * 2 + 17)]
    for n, cid in enumerate(ids):
        command = {"id": cid, "gid": 6, "nid": 1, "cmd": "ping", "args": {}, "data": str(n)}
        raw.lpush("cmds_queue", orjson.dumps(command))
        if n == MOVE_BATCH // 2:
            raw.lpush("cmds_queue", b'{"id": "no gid"}')
    with ServerProcess(str(tmp_path / "wk.db"), env=ENV, args=["--redis", redis_url]) as server:
        taken = []
        with httpx.Client(base_url=server.url, headers=AGENT) as agent:
            for _ in ids:
                taken.append(agent.get("/api/v1/agents/6/1/cmd?wait=5").json()["id"])
            assert agent.get("/api/v1/agents/6/1/cmd?wait=0").status_code == 204
        assert taken == ids
        assert raw.llen("cmds_queue") == 0
        sent = httpx.get(
            f"{server.url}/api/v1/events?kind=command.sent&limit=1000", headers=ADMIN
        ).json()
        assert sorted(e["body"]["id"] for e in sent["events"]) == sorted(ids)
