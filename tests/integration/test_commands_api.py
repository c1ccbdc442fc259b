"""The controller's routes on each queue: SQLite, PostgreSQL and Redis.

The agent's side is played by hand here (tests/agent/test_commands.py runs a real agent)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from tests.support import REDIS_ENV, require_service

ADMIN = {"Authorization": "Bearer admin-token-1"}
AGENT = {"Authorization": "Bearer agent-token-1"}
READ = {"Authorization": "Bearer read-token-1"}
TOKENS = {"admin-token-1": "admin", "agent-token-1": "agent", "read-token-1": "read"}


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@pytest.fixture(params=["db", pytest.param("redis", marks=pytest.mark.redis)])
def api(request: pytest.FixtureRequest, db_url: str) -> Iterator[TestClient]:
    extra = {}
    if request.param == "redis":
        if "postgresql" in db_url:
            pytest.skip("the Redis queue does not depend on the database")
        extra["redis"] = require_service(REDIS_ENV, "Redis")
        flush_redis(extra["redis"])
    with make_client(db_url, tokens=TOKENS, command_ttl=30, **extra) as client:
        yield client


def submit(api: TestClient, **command) -> str:
    answer = api.post("/api/v1/commands", json={"gid": 1, "nid": 7, **command}, headers=ADMIN)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def take(api: TestClient, gid: int = 1, nid: int = 7, wait: float = 0) -> dict | None:
    answer = api.get(f"/api/v1/agents/{gid}/{nid}/cmd", params={"wait": wait}, headers=AGENT)
    if answer.status_code == 204:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()


def post_result(api: TestClient, command: dict, state: str = "SUCCESS", **fields) -> dict:
    result = {**command, "state": state, "level": 20, "starttime": 1, "time": 2, **fields}
    answer = api.post(
        f"/api/v1/agents/{command['gid']}/{command['nid']}/result", json=result, headers=AGENT
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_command_goes_to_its_agent_in_order_and_its_result_comes_back(api) -> None:
    first = submit(api, cmd="execute", args={"name": "echo", "args": ["1"]}, data="in")
    second = submit(api, cmd="ping", id="my-own-id")
    assert second == "my-own-id"
    assert take(api, 1, 8) is None  # another agent's queue is empty
    got = take(api)
    assert got == {
        "id": first, "gid": 1, "nid": 7, "cmd": "execute",
        "args": {"name": "echo", "args": ["1"]}, "data": "in",
    }  # fmt: skip
    assert api.get(f"/api/v1/commands/{first}", headers=ADMIN).json()["state"] == "RUNNING"
    assert post_result(api, got, data='{"x": 1}') == {"stored": True}
    assert post_result(api, got, state="ERROR") == {"stored": False}  # a retry changes nothing
    record = api.get(f"/api/v1/commands/{first}", params={"wait": 5}, headers=ADMIN).json()
    assert record["state"] == "SUCCESS"
    assert record["data"] == '{"x": 1}'
    assert (record["level"], record["starttime"], record["time"]) == (20, 1, 2)
    assert record["sent_by"].startswith("admin:")
    assert take(api)["id"] == "my-own-id"
    assert take(api) is None
    listed = api.get("/api/v1/commands", params={"gid": 1, "nid": 7}, headers=ADMIN).json()
    assert [c["id"] for c in listed["commands"]] == ["my-own-id", first]
    done = api.get("/api/v1/commands", params={"state": "SUCCESS"}, headers=ADMIN).json()
    assert [c["id"] for c in done["commands"]] == [first]


def test_waiting_for_a_result_answers_when_it_comes(api) -> None:
    cid = submit(api, cmd="ping")
    started = time.monotonic()
    record = api.get(f"/api/v1/commands/{cid}", params={"wait": 0.3}, headers=ADMIN).json()
    assert record["state"] == "QUEUED"
    assert time.monotonic() - started >= 0.3
    post_result(api, take(api), data="pong")
    record = api.get(f"/api/v1/commands/{cid}", params={"wait": 30}, headers=ADMIN).json()
    assert (record["state"], record["data"]) == ("SUCCESS", "pong")


def test_the_same_id_twice_is_a_conflict(api) -> None:
    submit(api, cmd="ping", id="twice")
    again = api.post(
        "/api/v1/commands", json={"gid": 1, "nid": 7, "cmd": "ping", "id": "twice"}, headers=ADMIN
    )
    assert again.status_code == 409


def test_cancel_a_queued_command_and_kill_a_running_one(api) -> None:
    running = submit(api, cmd="execute", args={"name": "sleep", "args": ["100"]})
    queued = submit(api, cmd="ping")
    command = take(api)
    assert command["id"] == running
    cancelled = api.delete(f"/api/v1/commands/{queued}", headers=ADMIN)
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "KILLED"
    killing = api.delete(f"/api/v1/commands/{running}", headers=ADMIN).json()
    assert killing["state"] == "RUNNING"
    kill = take(api)  # ahead of anything queued, and the cancelled one is gone
    assert (kill["cmd"], kill["id"], kill["data"]) == (
        "kill",
        killing["kill"],
        f'{{"id":"{running}"}}',
    )
    assert take(api) is None
    post_result(api, command, state="KILLED")
    again = api.delete(f"/api/v1/commands/{running}", headers=ADMIN)
    assert again.status_code == 409
    assert api.delete("/api/v1/commands/nothing", headers=ADMIN).status_code == 404


def test_a_command_nobody_asks_for_expires(db_url) -> None:
    with make_client(db_url, tokens=TOKENS, command_ttl=0.2) as api:
        cid = submit(api, cmd="ping")
        time.sleep(0.3)
        record = api.get(f"/api/v1/commands/{cid}", headers=ADMIN).json()
        assert record["state"] == "EXPIRED"
        assert "did not ask for it within" in record["data"]
        assert take(api) is None


def test_results_only_from_the_agent_it_was_sent_to(api) -> None:
    submit(api, cmd="ping")
    command = take(api)
    foreign = api.post(
        "/api/v1/agents/1/8/result", json={**command, "state": "SUCCESS"}, headers=AGENT
    )
    assert foreign.status_code == 403
    unknown = api.post(
        "/api/v1/agents/1/7/result", json={"id": "nope", "state": "SUCCESS"}, headers=AGENT
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"nid": 7, "cmd": "ping"}, "body.gid"),
        ({"gid": -1, "nid": 7, "cmd": "ping"}, "body.gid"),
        ({"gid": 1, "nid": 7, "cmd": "Not a command"}, "body.cmd"),
        ({"gid": 1, "nid": 7, "cmd": "ping", "id": "a/b"}, "body.id"),
        ({"gid": 1, "nid": 7, "cmd": "ping", "args": [1]}, "body.args"),
        ({"gid": 1, "nid": 7, "cmd": "ping", "colour": "red"}, "body.colour"),
    ],
)
def test_bad_commands_are_refused_with_the_field(sqlite_url, body, path) -> None:
    with make_client(sqlite_url, tokens=TOKENS) as api:
        answer = api.post("/api/v1/commands", json=body, headers=ADMIN)
        assert answer.status_code == 422
        assert path in [d["path"] for d in answer.json()["error"]["details"]]
        assert api.get("/api/v1/commands", headers=ADMIN).json() == {"commands": []}


def test_only_admins_command_and_only_agents_use_the_channel(sqlite_url) -> None:
    with make_client(sqlite_url, tokens=TOKENS) as api:
        body = {"gid": 1, "nid": 7, "cmd": "ping"}
        for headers, status in ((READ, 403), (AGENT, 403), ({}, 401)):
            assert api.post("/api/v1/commands", json=body, headers=headers).status_code == status
            assert api.get("/api/v1/commands", headers=headers).status_code == status
        for headers, status in ((READ, 403), ({}, 401)):
            answer = api.get("/api/v1/agents/1/7/cmd?wait=0", headers=headers)
            assert answer.status_code == status
        assert api.get("/api/v1/commands", headers=ADMIN).json() == {"commands": []}


def test_logs_and_stats_become_events(sqlite_url) -> None:
    with make_client(sqlite_url, tokens=TOKENS) as api:
        logs = [
            {"domain": "d", "name": "n", "epoch": 1700000000, "level": 8, "id": 5, "data": "bad"},
            {"domain": "d", "name": "n", "epoch": 1700000001, "level": 1, "id": 6, "data": "x"},
        ]
        assert api.post("/api/v1/agents/1/7/log", json=logs, headers=AGENT).status_code == 202
        stats = {"timestamp": 1700000000, "series": [["1.7.d.n.cpu", 2.5], ["1.7.d.n.rss", 10]]}
        assert api.post("/api/v1/agents/1/7/stats", json=stats, headers=AGENT).status_code == 202
        bad = api.post("/api/v1/agents/1/7/log", json=[{"level": 1}], headers=AGENT)
        assert bad.status_code == 422
        events = api.get("/api/v1/events", headers=ADMIN).json()["events"]
        records = [e for e in events if e["kind"] == "log.record"]
        assert [(e["body"]["log_level"], e["level"]) for e in records] == [
            (8, "error"),
            (1, "info"),
        ]
        assert records[0]["body"]["agent"] == "1.7"
        (series,) = [e for e in events if e["kind"] == "metric.series"]
        assert series["body"]["series"] == [["1.7.d.n.cpu", 2.5], ["1.7.d.n.rss", 10.0]]
        assert (series["body"]["domain"], series["body"]["name"]) == ("d", "n")


def test_commands_and_results_are_in_the_event_log(sqlite_url) -> None:
    with make_client(sqlite_url, tokens=TOKENS) as api:
        cid = submit(api, cmd="ping")
        post_result(api, take(api), data="pong")
        events = api.get("/api/v1/events", headers=ADMIN).json()["events"]
        sent = [e for e in events if e["kind"] == "command.sent"]
        results = [e for e in events if e["kind"] == "command.result"]
        assert sent[0]["body"]["id"] == cid and sent[0]["body"]["sent_by"].startswith("admin:")
        assert results[0]["body"]["state"] == "SUCCESS" and results[0]["body"]["data"] == "pong"


def test_an_agents_own_token_opens_its_own_channel_only(tmp_path) -> None:
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'wk.db'}"
    made = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "token", "create", "--agent", "1.7", "--db", db],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    own = {"Authorization": f"Bearer {made.stdout.split()[-1]}"}
    assert "wka_" not in subprocess.run(
        [sys.executable, "-m", "watchkeeper", "token", "list", "--db", db],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with make_client(db, tokens=TOKENS) as api:
        assert api.get("/api/v1/agents/1/7/cmd?wait=0", headers=own).status_code == 204
        assert api.get("/api/v1/agents/1/8/cmd?wait=0", headers=own).status_code == 403
        assert api.post("/api/v1/agents/2/7/log", json=[], headers=own).status_code == 403
        body = {"gid": 1, "nid": 7, "cmd": "ping"}
        assert api.post("/api/v1/commands", json=body, headers=own).status_code == 403
        other = submit(api, cmd="ping", nid=8)
        result = {"id": other, "state": "SUCCESS"}
        assert api.post("/api/v1/agents/1/7/result", json=result, headers=own).status_code == 403
        assert api.post("/api/v1/agents/1/8/result", json=result, headers=own).status_code == 403
        mine = submit(api, cmd="ping")
        assert api.get("/api/v1/agents/1/7/cmd?wait=0", headers=own).json()["id"] == mine
        token_id = subprocess.run(
            [sys.executable, "-m", "watchkeeper", "token", "list", "--db", db],
            capture_output=True, text=True, check=True,
        ).stdout.split('"id": "')[1][:12]  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "watchkeeper", "token", "revoke", token_id, "--db", db],
            check=True, capture_output=True,
        )  # fmt: skip
        api.app.state.agent_tokens._read_at = -1e9  # what the server does 5 s later
        assert api.get("/api/v1/agents/1/7/cmd?wait=0", headers=own).status_code == 401


def test_an_agent_may_have_only_so_many_commands_waiting(api) -> None:
    api.app.state.settings.command_max_queued = 2
    submit(api, cmd="ping")
    submit(api, cmd="ping")
    answer = api.post("/api/v1/commands", json={"gid": 1, "nid": 7, "cmd": "ping"}, headers=ADMIN)
    assert answer.status_code == 429 and "2 commands waiting" in answer.json()["error"]["message"]
    submit(api, cmd="ping", nid=8)  # another agent's queue is its own
    take(api)
    submit(api, cmd="ping")


def test_the_commands_page_is_for_admins(sqlite_url) -> None:
    with make_client(sqlite_url, tokens=TOKENS) as api:
        cid = submit(api, cmd="execute", args={"name": "echo", "args": ["<b>hi</b>"]})
        post_result(api, take(api), data="<script>x</script>")
        page = api.get("/commands?gid=1&nid=7", headers=ADMIN)
        assert page.status_code == 200
        assert cid in page.text and "&lt;script&gt;x&lt;/script&gt;" in page.text
        assert "<script>x</script>" not in page.text
        assert "No command sent" in api.get("/commands?nid=8", headers=ADMIN).text
        assert api.get("/commands", headers=READ).status_code == 403
        assert api.get("/commands", follow_redirects=False).status_code in (302, 303, 307)
        assert api.get("/commands?gid=-1", headers=ADMIN).status_code == 422
