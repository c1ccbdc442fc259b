"""Programs under the agent: restart policies, back-off, timeouts, recurring runs, stopping.

Real subprocesses throughout; the agent's durable events are read from its journal.
"""

from __future__ import annotations

import asyncio
import json
import os

import psutil
import pytest

from tests.agent.harness import PY, events, finished, make_agent, program_states, run_until, runs
from watchkeeper.agent.store import LogStore
from watchkeeper.config import ConfigError


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_output_is_parsed_stored_and_queued_for_the_server(tmp_path):
    script = (
        "import sys\n"
        "print('hello'); print('3::public')\n"
        "print('20:::'); print('{\"a\":'); print(' 1}'); print(':::')\n"
        "print('21::[unclosed')\n"
        "print('oops', file=sys.stderr)\n"
        "print('10::hits:2|c')\n"
        "print('10::no statsd here')\n"
    )
    agent = make_agent(
        tmp_path,
        {"p": {"command": PY, "args": ["-c", script], "autorestart": "never"}},
        loglevels_ac="1-9,20-30",
    )
    asyncio.run(run_until(agent, lambda: len(finished(agent)) == 1))
    store = LogStore(tmp_path / "data" / "logs")
    rows = store.query(jobid="1.7/default/p/1", levels="1-30", limit=100)
    by_level = {}
    for row in reversed(rows):
        by_level.setdefault(row.level, []).append(row.data)
    assert by_level[1] == ["hello"] and by_level[3] == ["public"] and by_level[2] == ["oops"]
    assert by_level[20] == ['{"a":\n 1}'] and by_level[21] == ["[unclosed"]
    assert 10 not in by_level  # "*" leaves statsd lines out; they still count below
    yaml_note, statsd_note = by_level[8]
    assert "level 21" in yaml_note and "invalid YAML" in yaml_note
    assert "level 10" in statsd_note and "no statsd here" in statsd_note  # level 10 is ignored,
    # but what was wrong with it is not
    ids = [row.id for row in rows]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    records = events(agent, "log.record")
    assert {r["log_level"] for r in records} == {1, 2, 3, 8, 20, 21}  # 10 is not forwarded
    result = next(r for r in records if r["log_level"] == 20)
    assert result["result"] == {"a": 1} and result["job"] == "1.7/default/p/1"
    assert next(r for r in records if r["log_level"] == 21)["error"].startswith("invalid YAML")
    (end,) = finished(agent)
    assert (end["status"], end["exit_code"], end["result"]) == ("success", 0, "[unclosed")
    assert agent.statsd["p"].counters == {"hits": 2.0}


def test_level_filters_decide_what_is_kept_and_what_is_forwarded(tmp_path):
    script = "for n in (1, 3, 5, 7, 9): print(f'{n}::m{n}')"
    agent = make_agent(
        tmp_path,
        {
            "p": {
                "command": PY,
                "args": ["-c", script],
                "autorestart": "never",
                "loglevels": "1-7",
                "loglevels_db": "1,3,7",
                "loglevels_ac": "5-9",
            }
        },
    )
    asyncio.run(run_until(agent, lambda: len(finished(agent)) == 1))
    stored = LogStore(tmp_path / "data" / "logs").query(limit=100)
    assert sorted(r.level for r in stored) == [1, 3, 7]
    assert sorted(r["log_level"] for r in events(agent, "log.record")) == [5, 7]


def test_on_failure_restarts_with_capped_back_off_then_gives_up(tmp_path):
    agent = make_agent(
        tmp_path,
        {
            "p": {
                "command": PY,
                "args": ["-c", "raise SystemExit(3)"],
                "max_restart": 4,
                "restart_delay": 0.1,
                "restart_delay_max": 0.3,
            }
        },
    )
    asyncio.run(run_until(agent, lambda: any(s["state"] == "fatal" for s in program_states(agent))))
    ends = finished(agent)
    assert [(e["status"], e["exit_code"]) for e in ends] == [("failed", 3)] * 5
    assert [e["run"] for e in ends] == [1, 2, 3, 4, 5]
    backoffs = [s["message"] for s in program_states(agent) if s["state"] == "backoff"]
    assert backoffs == [f"restart {n} in {d:g} s" for n, d in enumerate([0.1, 0.2, 0.3, 0.3], 1)]
    starts = [h[0]["ts"] for h in runs(agent).values()]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap >= delay for gap, delay in zip(gaps, [0.1, 0.2, 0.3, 0.3], strict=True))
    (incident,) = events(agent, "incident")
    assert incident["level"] == "critical" and incident["task"] == "1.7/default/p/5"
    assert "failed 5 times" in incident["message"]


def test_autorestart_policies(tmp_path):
    ok, fail = ["-c", "pass"], ["-c", "raise SystemExit(1)"]
    agent = make_agent(
        tmp_path,
        {
            "always": {"command": PY, "args": ok, "autorestart": "always", "restart_delay": 0},
            "once": {"command": PY, "args": ok, "autorestart": "on-failure"},
            "never": {"command": PY, "args": fail, "autorestart": "never"},
        },
    )

    def settled() -> bool:
        ended = [len(finished(agent, name)) for name in ("always", "once", "never")]
        return ended[0] >= 3 and ended[1:] == [1, 1]

    asyncio.run(run_until(agent, settled, timeout=30))
    assert [e["status"] for e in finished(agent, "always")][:3] == ["success"] * 3
    assert [e["status"] for e in finished(agent, "once")] == ["success"]
    assert [e["status"] for e in finished(agent, "never")] == ["failed"]
    exited = program_states(agent, "1.7/default/never")[-1]
    assert exited["state"] == "exited" and "exit code 1" in exited["message"]


def test_timeout_kills_the_whole_tree_even_when_it_ignores_the_stop_signal(tmp_path):
    script = (
        "import json, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "escaped = subprocess.Popen(['sleep', '61'], start_new_session=True)\n"
        "print('20::' + json.dumps([child.pid, escaped.pid]), flush=True)\n"
        "time.sleep(60)\n"
    )
    agent = make_agent(
        tmp_path,
        {
            "p": {
                "command": PY,
                "args": ["-c", script],
                "max_time": 1,
                "stop_wait": 0.3,
                "autorestart": "never",
            }
        },
    )
    asyncio.run(run_until(agent, lambda: len(finished(agent)) == 1))
    (end,) = finished(agent)
    assert end["status"] == "timeout" and end["exit_code"] == -9
    assert "max_time" in end["reason"]
    pids = [end["pid"], *end["result"]]
    assert all(gone(pid) for pid in pids), [p for p in pids if not gone(p)]


def test_stop_sends_the_stop_signal_to_the_group_and_ends_the_run_aborted(tmp_path):
    marker = tmp_path / "term"
    script = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGINT, lambda *a: (open({str(marker)!r}, 'w').close(), "
        "sys.exit(0)))\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    agent = make_agent(
        tmp_path,
        {"p": {"command": PY, "args": ["-c", script], "stop_signal": "INT", "stop_wait": 5}},
    )
    up = lambda: any(r["data"] == "up" for r in events(agent, "log.record"))  # noqa: E731
    asyncio.run(run_until(agent, up))
    (end,) = finished(agent)
    assert end["status"] == "aborted" and end["reason"] == "stopped" and end["exit_code"] == 0
    assert marker.exists() and gone(end["pid"])
    assert program_states(agent)[-1]["state"] == "stopped"


def test_recurring_runs(tmp_path):
    agent = make_agent(
        tmp_path,
        {
            "p": {
                "command": PY,
                "args": ["-c", "print('tick')"],
                "recurring_period": 0.3,
                "autorestart": "never",
            }
        },
    )
    asyncio.run(run_until(agent, lambda: len(finished(agent)) >= 3))
    history = list(runs(agent).values())
    assert [h[-1]["status"] for h in history[:3]] == ["success"] * 3
    starts = [h[0]["ts"] for h in history]
    assert all(b - a >= 0.3 for a, b in zip(starts, starts[1:], strict=False))
    assert any(s["state"] == "waiting" for s in program_states(agent))


def test_a_command_that_cannot_start_fails_its_run(tmp_path):
    agent = make_agent(
        tmp_path, {"p": {"command": str(tmp_path / "missing"), "autorestart": "never"}}
    )
    asyncio.run(run_until(agent, lambda: len(finished(agent)) == 1))
    (end,) = finished(agent)
    assert end["status"] == "failed" and "cannot start" in end["reason"]


def test_environment_and_working_directory(tmp_path):
    script = "import os; print('20::' + __import__('json').dumps([os.getcwd(), os.environ['X']]))"
    agent = make_agent(
        tmp_path,
        {
            "p": {
                "command": PY,
                "args": ["-c", script],
                "working_dir": str(tmp_path),
                "env": {"X": "42"},
                "autorestart": "never",
            }
        },
    )
    asyncio.run(run_until(agent, lambda: len(finished(agent)) == 1))
    (end,) = finished(agent)
    assert end["result"] == [os.path.realpath(tmp_path), "42"]


@pytest.mark.parametrize("state", ["starting", "running", "stopping", "stopped"])
def test_the_agent_reports_its_state_switches(tmp_path, state):
    agent = make_agent(tmp_path, {"p": {"command": "sleep 30"}})
    asyncio.run(run_until(agent, lambda: bool(runs(agent))))
    states = [e for e in events(agent, "component.state") if e["type"] == "agent"]
    assert all(e["id"] == "1.7" for e in states)
    assert state in [e["state"] for e in states]
    assert json.dumps(states)  # every body is plain JSON for the server


def test_long_running_programs_added_at_run_time_come_back_after_a_restart(tmp_path):
    agent = make_agent(tmp_path, {})
    table = {"command": "sleep 30", "max_time": -1, "domain": "svc"}

    async def add_then_run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        while agent.state != "running":
            await asyncio.sleep(0.01)
        agent.add_program("daemon", table)
        agent.add_program("oneoff", {"command": "sleep 30", "name": "oneoff"})
        with pytest.raises(Exception, match="already running"):
            agent.add_program("daemon", table)
        while len(runs(agent, "daemon")) < 1 or len(runs(agent, "oneoff")) < 1:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(add_then_run())
    again = make_agent(tmp_path, {})
    asyncio.run(run_until(again, lambda: "1.7/svc/daemon/2" in runs(again, "daemon")))
    assert "1.7/default/oneoff/2" not in runs(again, "oneoff")


def test_one_data_directory_serves_one_agent_at_a_time(tmp_path):
    first = make_agent(tmp_path, {})
    with pytest.raises(ConfigError, match=f"in use by agent pid {os.getpid()}"):
        make_agent(tmp_path, {})
    asyncio.run(run_until(first, lambda: True))  # running and stopping releases it
    make_agent(tmp_path, {})
