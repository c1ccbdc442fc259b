"""Commands end to end: a real server, a real agent process, real programs.

The queue is the server's SQLite database here, or a real Redis (``redis`` marked tests)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.agent.test_forwarding import PY, TOKENS, agent_process, wait_for, write_config
from tests.support import REDIS_ENV, ServerProcess, require_service

pytestmark = pytest.mark.slow

ENV = {**TOKENS, "WATCHKEEPER_ADMIN_TOKEN": "admin-token-1"}
ADMIN = {"Authorization": "Bearer admin-token-1"}
CMDS = f"""
[cmds]
allow_execute = ["echo", "sh", "sleep", "{PY}"]
wait = 2
[cmds.execute_js_py]
binary = "{PY}"
path = "SCRIPTS"
"""


class Node:
    def __init__(self, server: ServerProcess, agent: subprocess.Popen, scripts: Path) -> None:
        self.server = server
        self.agent = agent
        self.scripts = scripts

    def send(self, cmd: str, args: dict | None = None, data: str | None = None, **extra) -> str:
        body = {"gid": 1, "nid": 7, "cmd": cmd, "args": args or {}, "data": data, **extra}
        answer = httpx.post(f"{self.server.url}/api/v1/commands", json=body, headers=ADMIN)
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    def result(self, cid: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = httpx.get(
                f"{self.server.url}/api/v1/commands/{cid}",
                params={"wait": 5},
                headers=ADMIN,
                timeout=15,
            ).json()
            if record["state"] not in ("QUEUED", "RUNNING"):
                return record
        raise AssertionError(f"no result for {cid}")

    def started(self, cid: str, run: int = 1) -> None:
        """Wait until the agent reports run ``run`` of the command's program: it has started."""
        path = f"{self.server.url}/api/v1/tasks/1.7/cmd/{cid}/{run}"
        wait_for(lambda: httpx.get(path, headers=ADMIN).status_code == 200, what=f"{cid} started")

    def run(self, cmd: str, args: dict | None = None, data: str | None = None) -> dict[str, Any]:
        return self.result(self.send(cmd, args, data))


def start_node(tmp_path: Path, queue_args: list[str]) -> Iterator[Node]:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "hello.py").write_text("import sys\nprint('20::' + '\"' + sys.argv[1] + '\"')\n")
    config = write_config(tmp_path / "agent.toml", CMDS.replace("SCRIPTS", str(scripts)))
    with (
        ServerProcess(
            f"sqlite:///{tmp_path / 'wk.db'}",
            env=ENV,
            args=queue_args,
            log_path=str(tmp_path / "server.log"),
        ) as server,
        agent_process(config, server, tmp_path / "data") as agent,
    ):
        yield Node(server, agent, scripts)


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    yield from start_node(tmp_path_factory.mktemp("node"), [])


def test_execute_echo(node) -> None:
    record = node.run("execute", {"name": "echo", "args": ["hi"]})
    assert (record["state"], record["data"], record["level"]) == ("SUCCESS", "hi", 1)
    assert record["starttime"] > 1_600_000_000_000 and record["time"] >= 0  # ms


def test_a_program_that_prints_nothing(node) -> None:
    record = node.run("execute", {"name": "sh", "args": ["-c", "true"]})
    assert (record["state"], record["data"], record["level"]) == ("SUCCESS", "", 1)
    record = node.run("execute", {"name": "sh", "args": ["-c", "exit 4"]})
    assert (record["state"], record["data"]) == ("ERROR", "")


def test_execute_a_script_reading_stdin(node) -> None:
    script = 'read x; echo "20::{\\"got\\": \\"$x\\"}"'
    record = node.run("execute", {"name": "sh", "args": ["-c", script]}, data="hello\n")
    assert record["state"] == "SUCCESS" and record["level"] == 20
    assert orjson.loads(record["data"]) == {"got": "hello"}


def test_a_failing_program_is_an_error(node) -> None:
    record = node.run("execute", {"name": "sh", "args": ["-c", "echo oops >&2; exit 3"]})
    assert (record["state"], record["data"]) == ("ERROR", "oops")


def test_a_timeout(node) -> None:
    record = node.run("execute", {"name": "sleep", "args": ["30"], "max_time": 0.5})
    assert record["state"] == "TIMEOUT"
    assert record["time"] < 15_000


def test_kill_a_long_sleep(node) -> None:
    cid = node.send("execute", {"name": "sleep", "args": ["60"]})
    node.started(cid)
    answer = httpx.delete(f"{node.server.url}/api/v1/commands/{cid}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert node.result(cid)["state"] == "KILLED"
    kill = node.result(answer.json()["kill"])
    assert kill["state"] == "SUCCESS"


def test_get_msgs_after_a_run(node) -> None:
    cid = node.send("execute", {"name": "sh", "args": ["-c", "echo one; echo 3::two"]})
    assert node.result(cid)["state"] == "SUCCESS"
    found = node.run("get_msgs", data=orjson.dumps({"jobid": cid, "levels": "*"}).decode())
    assert [m["data"] for m in orjson.loads(found["data"])] == ["two", "one"]
    too_many = node.run("get_msgs", data='{"limit": 1001}')
    assert too_many["state"] == "ERROR" and "limit" in too_many["data"]
    deleted = node.run("del_msgs", data=orjson.dumps({"jobid": cid, "levels": [3]}).decode())
    assert orjson.loads(deleted["data"]) == {"deleted": 1}


def test_killall_stops_recurring_programs(node) -> None:
    recurring = node.send("execute", {"name": "echo", "args": ["tick"], "recurring_period": 0.3})
    forever = node.send("execute", {"name": "sleep", "args": ["60"], "max_time": -1})
    node.started(forever)
    node.started(recurring, run=2)  # between or during its recurring runs
    killed = node.run("killall")
    assert killed["state"] == "SUCCESS"
    assert set(orjson.loads(killed["data"])) == {recurring, forever}
    assert node.result(recurring)["state"] == "KILLED"
    assert node.result(forever)["state"] == "KILLED"


def test_a_one_shot_run_is_a_task_and_a_recurring_one_a_program(node) -> None:
    once = node.send("execute", {"name": "echo", "args": ["once"]})
    assert node.result(once)["state"] == "SUCCESS"
    recurring = node.send("execute", {"name": "echo", "args": ["tick"], "recurring_period": 0.3})
    url, deadline = node.server.url, time.monotonic() + 30
    while time.monotonic() < deadline:
        # The recurring program's switches leave after the one-shot run's task events.
        found = httpx.get(f"{url}/api/v1/components?type=program", headers=ADMIN).json()
        programs = [c["id"] for c in found["components"]]
        if any(recurring in cid for cid in programs):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no program component for {recurring}: {programs}")
    assert not any(once in cid for cid in programs)
    tasks = httpx.get(f"{url}/api/v1/tasks?limit=1000", headers=ADMIN).json()["tasks"]
    assert [t["status"] for t in tasks if f"/cmd/{once}/" in t["id"]] == ["success"]
    assert httpx.delete(f"{url}/api/v1/commands/{recurring}", headers=ADMIN).status_code == 200
    assert node.result(recurring)["state"] == "KILLED"


def test_builtins_and_refusals(node) -> None:
    ping = node.run("ping")
    assert (ping["state"], ping["data"], ping["level"]) == ("SUCCESS", "pong", 20)
    for info in ("get_cpu_info", "get_mem_info", "get_disk_info", "get_nic_info", "get_os_info"):
        record = node.run(info)
        assert record["state"] == "SUCCESS", record
        assert orjson.loads(record["data"])
    assert orjson.loads(node.run("get_os_info")["data"])["os"] == "linux"
    unknown = node.run("frobnicate")
    assert unknown["state"] == "ERROR" and "unknown command 'frobnicate'" in unknown["data"]
    refused = node.run("execute", {"name": "rm", "args": ["-rf", "/tmp/x"]})
    assert refused["state"] == "ERROR" and "not allowed" in refused["data"]
    missing = node.run("kill", data='{"id": "nope"}')
    assert (missing["state"], missing["data"]) == ("ERROR", "Process with id 'nope' doesn't exist")
    escape = node.run("execute_js_py", {"name": "../hello.py"})
    assert escape["state"] == "ERROR"


def test_script_runner(node) -> None:
    record = node.run("execute_js_py", {"name": "hello.py", "args": ["world"]})
    assert (record["state"], record["data"], record["cmd"]) == (
        "SUCCESS",
        '"world"',
        "execute_js_py",
    )


def test_restart_stops_the_agent_cleanly(tmp_path) -> None:
    for node in start_node(tmp_path, []):
        record = node.run("restart")
        assert record["state"] == "SUCCESS"
        assert node.agent.wait(20) == 0


@pytest.mark.redis
def test_on_redis(tmp_path) -> None:
    import redis

    url = require_service(REDIS_ENV, "Redis")
    redis.Redis.from_url(url).flushdb()
    for node in start_node(tmp_path, ["--redis", url]):
        record = node.run("execute", {"name": "echo", "args": ["hi"]})
        assert (record["state"], record["data"]) == ("SUCCESS", "hi")
        cid = node.send("execute", {"name": "sleep", "args": ["60"]})
        node.started(cid)
        httpx.delete(f"{node.server.url}/api/v1/commands/{cid}", headers=ADMIN)
        assert node.result(cid)["state"] == "KILLED"


def test_the_python_client(node) -> None:
    from watchkeeper.client import Client
    from watchkeeper.cmdclient import CommandFailed, RunArgs

    with Client(node.server.url, "admin-token-1") as client:
        handle = client.execute(1, 7, "echo", args=["hi"], max_time=5)
        assert handle.result(30)["data"] == "hi"
        assert handle.get_msgs()[0]["data"] == "hi"
        seed_style = client.execute(1, 7, "sh", ["-c", "echo 20::7"], RunArgs(domain="d"))
        assert seed_style.get_result(30)["data"] == "7"
        assert client.get_os_info(1, 7)["os"] == "linux"
        assert len(client.get_cpu_info(1, 7)) >= 1
        bound = client.get_bound_client(1, 7)
        assert "total" in bound.get_mem_info()
        sleeper = bound.execute("sleep", ["60"])
        node.started(sleeper.id)
        assert [p["cmd"] for p in bound.get_processes()] == [sleeper.id]
        sleeper.kill()
        assert sleeper.result(30)["state"] == "KILLED"
        with pytest.raises(CommandFailed, match="unknown command"):
            client.call(1, 7, "nonsense")
        with pytest.raises(TimeoutError):
            client.cmd(1, 99, "ping").result(0.5)  # nobody polls agent 1.99


def test_the_cli(node) -> None:
    base = [PY, "-m", "watchkeeper", "cmd", "--server", node.server.url, "--token", "admin-token-1"]
    done = subprocess.run([*base, "1", "7", "execute", "--", "echo", "hi"], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"SUCCESS" in done.stdout and b"hi" in done.stdout
    done = subprocess.run([*base, "--json", "1", "7", "ping"], capture_output=True)
    assert orjson.loads(done.stdout)["data"] == "pong"
    failed = subprocess.run(
        [*base, "1", "7", "execute", "--", "sh", "-c", "exit 4"], capture_output=True
    )
    assert failed.returncode == 1 and b"ERROR" in failed.stdout
    refused = subprocess.run(
        [PY, "-m", "watchkeeper", "cmd", "--server", node.server.url, "--token", "agent-token-1",
         "1", "7", "ping"], capture_output=True,
    )  # fmt: skip
    assert refused.returncode == 1 and b"403" in refused.stderr
