"""The agent against a real ``watchkeeper serve``: liveness, runs as tasks, exactly once.

Both are real processes; the server is killed and restarted under the agent, and the agent is
killed and restarted under its programs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest

from tests.support import ServerProcess
from watchkeeper.agent.forwarder import Forwarder
from watchkeeper.agent.journal import Journal
from watchkeeper.agent.store import LogStore

PY = sys.executable
TOKENS = {"WATCHKEEPER_AGENT_TOKEN": "agent-token-1", "WATCHKEEPER_READ_TOKEN": "read-token-1"}
READ = {"Authorization": "Bearer read-token-1"}


def write_config(path: Path, programs: str, **agent: Any) -> Path:
    table = {
        "gid": 1,
        "nid": 7,
        "flush_interval": 0.2,
        "heartbeat_interval": 0.5,
        "retry_delay": 0.1,
        "retry_delay_max": 0.5,
        "shutdown_timeout": 2,
        **agent,
    }
    lines = ["[agent]", *(f"{k} = {v!r}" for k, v in table.items()), programs]
    if "[cmds]" not in programs:
        # The server waits for open long polls when it stops (up to its 10 s grace): a short
        # one lets each stop here finish at once instead of after the grace.
        lines.append("[cmds]\nwait = 1")
    path.write_text("\n".join(lines) + "\n")  # repr() of str and numbers is valid TOML
    return path


@contextmanager
def agent_process(config: Path, server: ServerProcess, data: Path) -> Iterator[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    log = open(data.parent / "agent.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [PY, "-m", "watchkeeper", "agent", "--config", str(config), "--server", server.url,
         "--token", TOKENS["WATCHKEEPER_AGENT_TOKEN"], "--data-dir", str(data)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


def get(server: ServerProcess, path: str, **params: Any) -> Any:
    response = httpx.get(server.url + path, params=params, headers=READ, timeout=10)
    response.raise_for_status()
    return response.json()


def all_events(server: ServerProcess, kind: str) -> list[dict[str, Any]]:
    out, since = [], 0
    while True:
        page = get(server, "/api/v1/events", kind=kind, since_seq=since, limit=10_000)
        out.extend(page["events"])
        if not page["events"]:
            return out
        since = page["next_since_seq"]


def records(server: ServerProcess, job: str) -> list[dict[str, Any]]:
    return [e["body"] for e in all_events(server, "log.record") if e["body"]["job"] == job]


def test_agent_is_a_live_component_and_its_runs_are_tasks(tmp_path):
    (tmp_path / "once.py").write_text("print('20::42')\n")
    config = write_config(
        tmp_path / "agent.toml",
        f"[programs.once]\ncommand = '{PY} {tmp_path / 'once.py'}'\n"
        "autorestart = 'never'\n[programs.daemon]\ncommand = 'sleep 60'\ndomain = 'svc'\n",
    )
    with (
        ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=TOKENS) as server,
        agent_process(config, server, tmp_path / "data"),
    ):
        agent = wait_for(
            lambda: (a := get(server, "/api/v1/agents/1.7"))["state"] == "running" and a,
            what="agent running",
        )
        assert agent["liveness"] == "online" and agent["type"] == "agent"
        task = wait_for(
            lambda: (
                (t := get(server, "/api/v1/tasks/1.7/default/once/1"))["status"] == "success" and t
            ),
            what="run finished",
        )
        assert task["agent"] == "1.7"
        assert [h["status"] for h in task["history"]] == ["running", "success"]
        daemon = get(server, "/api/v1/tasks/1.7/svc/daemon/1")
        assert daemon["status"] == "running"
        programs = get(server, "/api/v1/components", type="program")["components"]
        assert {c["id"] for c in programs} == {"1.7/default/once", "1.7/svc/daemon"}
        (result,) = [r for r in records(server, "1.7/default/once/1") if r["log_level"] == 20]
        assert result["result"] == 42
        pings = get(server, "/api/v1/agents/1.7")["pings"]["running"]
        wait_for(lambda: get(server, "/api/v1/agents/1.7")["pings"]["running"] > pings + 1,
                 what="heartbeats")  # fmt: skip


def logs_of(server: ServerProcess, job: str) -> list[dict[str, Any]]:
    """Every log record of ``job`` through ``/api/v1/logs``, page by page."""
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"job": job, "limit": 1000}
    while True:
        page = get(server, "/api/v1/logs", **params)
        out.extend(page["logs"])
        if page["next_cursor"] is None:
            return out
        params["cursor"] = page["next_cursor"]


@pytest.mark.slow
def test_server_away_while_a_program_logs_every_line_arrives_exactly_once(tmp_path):
    """The server stopped for 20 s while a program logs 5,000 lines, then restarted: every
    line arrives exactly once, as log records."""
    go, done = tmp_path / "go", tmp_path / "done"
    script = tmp_path / "writer.py"
    script.write_text(
        "import os, sys, time\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
        "for i in range(5000):\n"
        "    print(f'line {i}', flush=(i % 50 == 0))\n"
        "    if i % 50 == 0: time.sleep(0.1)\n"  # about 10 s of output, all while away
        "sys.stdout.flush()\n"
        f"open({str(done)!r}, 'w').close()\n"
        "time.sleep(120)\n"
    )
    config = write_config(tmp_path / "agent.toml", f"[programs.w]\ncommand = '{PY} {script}'\n")
    db = f"sqlite:///{tmp_path / 'wk.db'}"
    job = "1.7/default/w/1"
    server = ServerProcess(db, env=TOKENS).start()
    try:
        with agent_process(config, server, tmp_path / "data"):
            wait_for(lambda: get(server, f"/api/v1/tasks/{job}"), what="run known")
            server.kill()  # a crash: whatever was in flight is unacknowledged
            away = time.monotonic()
            go.touch()
            wait_for(done.exists, timeout=40, what="program done")
            time.sleep(max(0.0, 20.0 - (time.monotonic() - away)))  # retrying against nothing
            server = ServerProcess(db, port=server.port, env=TOKENS).start()
            wait_for(lambda: len(logs_of(server, job)) >= 5000, timeout=90, what="5000 lines")
            time.sleep(1.0)  # nothing more may arrive
            found = logs_of(server, job)
        assert sorted(r["data"] for r in found) == sorted(f"line {i}" for i in range(5000))
        ids = [r["id"] for r in found]
        assert len(set(ids)) == 5000 and ids == sorted(ids, reverse=True)  # newest first
        assert {(r["agent"], r["domain"], r["name"], r["level"]) for r in found} == {
            ("1.7", "default", "w", 1)
        }
    finally:
        server.stop()


@pytest.mark.slow
def test_agent_killed_and_restarted_brings_programs_back_and_loses_nothing_acknowledged(
    tmp_path,
):
    script = tmp_path / "counter.py"
    script.write_text(
        "import itertools, time\n"
        "for i in itertools.count():\n"
        "    print(f'n {i}', flush=True)\n"
        "    time.sleep(0.005)\n"
    )
    config = write_config(
        tmp_path / "agent.toml", f"[programs.c]\ncommand = '{PY} {script}'\nmax_time = -1\n"
    )
    data = tmp_path / "data"
    with ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=TOKENS) as server:
        with agent_process(config, server, data) as first:
            wait_for(lambda: len(records(server, "1.7/default/c/1")) >= 200, what="first lines")
            first.kill()
            first.wait()
        with agent_process(config, server, data):
            wait_for(
                lambda: get(server, "/api/v1/tasks/1.7/default/c/2")["status"] == "running",
                what="program back",
            )
            run1 = wait_for(
                lambda: (
                    (t := get(server, "/api/v1/tasks/1.7/default/c/1"))["status"] == "aborted" and t
                ),
                what="first run closed",
            )
            wait_for(lambda: len(records(server, "1.7/default/c/2")) >= 50, what="new lines")
        assert run1["history"][-1]["status"] == "aborted"
        events = {e["event_id"]: e for e in all_events(server, "task.status")}
        started = [e["body"] for e in events.values() if e["body"]["task"] == "1.7/default/c/1"]
        pid = next(b["pid"] for b in started if b["status"] == "running")
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        forwarded = records(server, "1.7/default/c/1")
        ids = [r["id"] for r in forwarded]
        assert ids == list(range(1, len(ids) + 1))  # no gap, no repeat
        assert [r["data"] for r in forwarded] == [f"n {i}" for i in range(len(ids))]
        stored = LogStore(data / "logs").query(jobid="1.7/default/c/1", limit=1000, levels="1")
        assert {r.id for r in stored} <= set(ids)


async def send_once(journal: Journal, url: str, rows: list[tuple[int, bytes]]) -> bool:
    forwarder = Forwarder(
        journal, server=url, token=TOKENS["WATCHKEEPER_AGENT_TOKEN"], agent_id="1.7"
    )
    try:
        return await forwarder._send(rows)
    finally:
        await forwarder.aclose()


def test_refused_events_are_dropped_the_rest_delivered_and_resends_are_idempotent(tmp_path):
    journal = Journal(tmp_path / "journal.db")
    note = lambda n: orjson.dumps({"kind": "agent.note", "n": n})  # noqa: E731
    journal.append([note(1), orjson.dumps({"kind": "task.status", "status": "x"}), note(2)])

    async def send(token: str, seconds: float) -> None:
        forwarder = Forwarder(
            journal, server=server.url, token=token, agent_id="1.7", retry_delay=0.05
        )
        sending = asyncio.ensure_future(forwarder.send_pending())
        await asyncio.wait({sending}, timeout=seconds)
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        await forwarder.aclose()

    with ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=TOKENS) as server:
        for wrong in ("read-token-1", "no-such-token"):  # 403, 401: kept, retried
            asyncio.run(send(wrong, 0.5))
            assert journal.pending_count() == 3
        sent = journal.pending(10, 1 << 20)
        asyncio.run(send(TOKENS["WATCHKEEPER_AGENT_TOKEN"], 10))
        assert journal.pending_count() == 0
        assert [e["body"]["n"] for e in all_events(server, "agent.note")] == [1, 2]
        # The same batch again, as after an acknowledgement lost on the way: stored once.
        good = [row for row in sent if b"agent.note" in row[1]]
        assert asyncio.run(send_once(journal, server.url, good)) is True
        assert [e["body"]["n"] for e in all_events(server, "agent.note")] == [1, 2]
        agent_read = httpx.get(
            server.url + "/api/v1/tasks",
            headers={"Authorization": f"Bearer {TOKENS['WATCHKEEPER_AGENT_TOKEN']}"},
        )
        assert agent_read.status_code == 403
