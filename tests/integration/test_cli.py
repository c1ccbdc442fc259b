"""The ``watchkeeper`` command: settings precedence, send, queries, db maintenance, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from tests.fleet import HISTORY
from tests.support import ServerProcess


def wk(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        env={**clean, "COLUMNS": "200", **(env or {})},
        input=stdin,
        cwd=cwd,
        timeout=120,
        text=stdin is None,
    )


def resolved(*args: str, env=None) -> dict:
    result = wk("serve", "--check", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_settings_precedence_cli_over_env_over_file_over_default(tmp_path):
    config = tmp_path / "wk.toml"
    config.write_text(
        'db = "file.db"\nport = 7001\nstale_after = 5\noffline_after = 50\n'
        '[serve]\nhost = "127.0.0.2"\n[auth]\nread_token = "read-token-1"\n'
    )
    defaults = resolved()
    assert defaults["port"] == 7070 and defaults["stale_after"] == 30.0
    assert defaults["command_max_wait"] == 60.0
    assert defaults["db"] == "sqlite:///watchkeeper.db" and defaults["tokens"] == []
    from_file = resolved("--config", str(config))
    assert (from_file["port"], from_file["host"], from_file["db"]) == (
        7001,
        "127.0.0.2",
        "sqlite:///file.db",
    )
    assert from_file["tokens"] == ["read"]
    env = {
        "WATCHKEEPER_PORT": "7002",
        "WATCHKEEPER_CONFIG": str(config),
        "WATCHKEEPER_ADMIN_TOKEN": "admin-token-1",
    }
    from_env = resolved(env=env)
    assert from_env["port"] == 7002 and from_env["stale_after"] == 5.0
    assert from_env["tokens"] == ["admin", "read"]
    from_cli = resolved("--port", "7003", "--stale-after", "9", env=env)
    assert (from_cli["port"], from_cli["stale_after"], from_cli["offline_after"]) == (
        7003,
        9.0,
        50.0,
    )


def test_the_longest_long_poll_is_a_setting():
    assert resolved(env={"WATCHKEEPER_COMMAND_MAX_WAIT": "2"})["command_max_wait"] == 2.0
    result = wk("serve", "--check", "--command-max-wait", "301")
    assert result.returncode == 2 and "--command-max-wait" in result.stderr, result.stderr


def test_serve_refuses_open_non_loopback_and_bad_config(tmp_path):
    result = wk("serve", "--check", "--host", "0.0.0.0")
    assert result.returncode == 2 and "--insecure" in result.stderr
    # the message's own brackets are printed, not taken for markup
    assert "(or [auth] in the config file)" in result.stderr
    assert wk("serve", "--check", "--host", "0.0.0.0", "--insecure").returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    result = wk("serve", "--check", "--config", str(bad))
    assert result.returncode == 2 and "bad.toml" in result.stderr


@pytest.fixture
def server(tmp_path):
    with ServerProcess(f"sqlite:///{tmp_path / 'cli.db'}") as srv:
        yield srv


def test_send_file_then_query_as_tables_and_json(server, tmp_path):
    path = tmp_path / "fleet.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(i) for i in HISTORY))
    result = wk("send", str(path), "--server", server.url, "--batch-size", "5")
    assert result.returncode == 0, result.stderr
    assert f"sent {len(HISTORY)} events: {len(HISTORY)} stored, 0 duplicates" in result.stdout
    again = wk("send", str(path), "--server", server.url)
    assert f"0 stored, {len(HISTORY)} duplicates" in again.stdout

    tasks = json.loads(wk("tasks", "--server", server.url, "--json").stdout)
    assert tasks["total"] == 3
    table = wk("tasks", "--server", server.url, "--status", "aborted").stdout
    assert "aborted" in table and "finished" not in table
    agents = wk("agents", "--server", server.url).stdout
    assert "777" in agents and "778" in agents
    incidents = json.loads(wk("incidents", "--server", server.url, "--json").stdout)
    assert incidents["incidents"][0]["task"] == "2"


def test_send_from_stdin_json_array(server):
    result = wk("send", "-", "--server", server.url, stdin=orjson.dumps(HISTORY[:4]))
    assert result.returncode == 0
    assert b"4 stored" in result.stdout


def test_send_reports_refusal_with_paths(server, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"id_task": 1}]))
    result = wk("send", str(path), "--server", server.url)
    assert result.returncode == 1
    assert "[0].status: field required" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["tasks"], ["agents"], ["incidents", "--json"], ["send", "-", "--retries", "0"]],
)
def test_unreachable_server_says_how_to_choose_one(command, tmp_path):
    stdin = b'{"kind": "x"}' if command[0] == "send" else None
    result = wk(*command, "--server", "http://127.0.0.1:9", stdin=stdin)
    err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    assert result.returncode == 1, err
    assert "cannot reach http://127.0.0.1:9" in err
    assert "--server" in err and "WATCHKEEPER_SERVER" in err
    assert "Traceback" not in err


def test_something_else_on_the_port_is_a_clear_error():
    class NotWatchkeeper(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), NotWatchkeeper)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        result = wk("agents", "--server", f"http://127.0.0.1:{other.server_address[1]}")
    finally:
        other.shutdown()
        other.server_close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a watchkeeper server" in result.stderr and "--server" in result.stderr


def test_the_server_comes_from_the_environment(server):
    wk("send", "-", "--server", server.url, stdin=orjson.dumps(HISTORY))
    result = wk("agents", "--json", env={"WATCHKEEPER_SERVER": server.url})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 2
    # the error names the server the environment chose
    unset = wk("agents", env={"WATCHKEEPER_SERVER": "http://127.0.0.1:9"})
    assert "cannot reach http://127.0.0.1:9" in unset.stderr


def test_tables_do_not_wrap_when_stdout_is_not_a_terminal(server):
    long_message = "the lift stopped between two floors " * 4
    items = [
        {"level": "warning", "id_agent": 4242, "datetime": "2024-05-01 10:00:03.000",
         "message": long_message, "last_state": "moving", "curent_loc": "A1"},
        {"id_task": 31337, "datetime": "2024-05-01 10:00:00.000", "level": "info",
         "status": "created", "created_by": 0},
    ]  # fmt: skip
    wk("send", "-", "--server", server.url, stdin=orjson.dumps(items))
    narrow = {"COLUMNS": "40"}
    incidents = wk("incidents", "--server", server.url, env=narrow)
    assert incidents.returncode == 0, incidents.stderr
    (row,) = [line for line in incidents.stdout.splitlines() if "4242" in line]
    assert "2024-05-01T10:00:03.000Z" in row and long_message.strip() in row
    tasks = wk("tasks", "--server", server.url, env=narrow).stdout
    (row,) = [line for line in tasks.splitlines() if "31337" in line]
    assert row.count("2024-05-01T10:00:00.000Z") == 2  # created_at and updated_at, whole
    as_json = wk("incidents", "--server", server.url, "--json", env=narrow).stdout
    assert json.loads(as_json)["incidents"][0]["message"] == long_message


def test_db_upgrade_and_rebuild(tmp_path, server):
    wk("send", "-", "--server", server.url, stdin=orjson.dumps(HISTORY))
    server.stop()
    up = wk("db", "upgrade", "--db", server.db)
    assert up.returncode == 0 and "revision" in up.stdout
    rebuilt = wk("db", "rebuild", "--db", server.db)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"from {len(HISTORY)} events" in rebuilt.stdout


def test_demo_feeds_a_live_fleet(server):
    result = wk("demo", "--server", server.url, "--duration", "4", "--agents", "3", "--seed", "7")
    assert result.returncode == 0, result.stderr
    agents = json.loads(wk("agents", "--server", server.url, "--json").stdout)["agents"]
    assert {a["id"] for a in agents} == {"777", "778", "779"}
    assert all(a["liveness"] == "online" for a in agents)
    assert json.loads(wk("tasks", "--server", server.url, "--json").stdout)["total"] >= 3
