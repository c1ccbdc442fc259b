"""Agent settings: CLI > WATCHKEEPER_<OPTION> > [agent] table > defaults; program tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from watchkeeper.agent import config
from watchkeeper.config import ConfigError


def wk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, with none of the test runner's WATCHKEEPER_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        env={**clean, **(env or {})},
        text=True,
        timeout=60,
    )


def check(*args: str, env: dict[str, str] | None = None) -> dict:
    result = wk("agent", "--check", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_precedence_cli_over_env_over_file_over_default(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\ngid = 1\nnid = 7\nserver = "http://file:1"\nheartbeat_interval = 3\n'
        'data_dir = "from-file"\n[programs.web]\ncommand = "sleep 10"\ndomain = "site"\n'
    )
    from_file = check("--config", str(path))
    assert (from_file["gid"], from_file["nid"], from_file["server"]) == ("1", "7", "http://file:1")
    assert from_file["heartbeat_interval"] == 3.0 and from_file["data_dir"] == "from-file"
    assert from_file["batch_size"] == 1000  # default
    assert from_file["programs"] == {"web": ["site", "web", ["sleep", "10"]]}
    env = {
        "WATCHKEEPER_CONFIG": str(path),
        "WATCHKEEPER_SERVER": "http://env:2",
        "WATCHKEEPER_HEARTBEAT_INTERVAL": "4",
        "WATCHKEEPER_NID": "8",
    }
    from_env = check(env=env)
    assert (from_env["server"], from_env["heartbeat_interval"], from_env["nid"]) == (
        "http://env:2",
        4.0,
        "8",
    )
    from_cli = check("--server", "http://cli:3", "--nid", "9", "--token", "secret-1", env=env)
    assert (from_cli["server"], from_cli["nid"], from_cli["token"]) == ("http://cli:3", "9", "***")


def test_missing_ids_and_bad_programs_exit_2_naming_the_key(tmp_path):
    result = wk("agent", "--check")
    assert result.returncode == 2 and "gid is required" in result.stderr
    path = tmp_path / "agent.toml"
    path.write_text('[agent]\ngid = 1\nnid = 1\n[programs.x]\ncommand = "true"\nmax_time = "a"\n')
    result = wk("agent", "--check", "--config", str(path))
    assert result.returncode == 2 and "programs.x.max_time" in result.stderr


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ({}, "programs.p.command"),
        ({"command": "x", "autorestart": "sometimes"}, "programs.p.autorestart"),
        ({"command": "x", "max_restart": -2}, "programs.p.max_restart"),
        ({"command": "x", "max_time": -0.5}, "programs.p.max_time"),
        ({"command": "x", "stop_signal": "NOPE"}, "programs.p.stop_signal"),
        ({"command": "x", "loglevels": "5-1"}, "programs.p.loglevels"),
        ({"command": "x", "args": "not a list"}, "programs.p.args"),
        ({"command": "x", "domain": "a/b"}, "programs.p.domain"),
        ({"command": "x", "autorestrat": "always"}, "programs.p: unknown keys autorestrat"),
        ({"command": "'unclosed"}, "programs.p.command"),
    ],
)
def test_program_tables_are_validated(table, path):
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        config.program("p", table, "programs.p")


def test_program_defaults_and_forms():
    spec = config.program("web", {"command": "python", "args": ["-m", "http.server", 8000]}, "p")
    assert spec.argv == ["python", "-m", "http.server", "8000"]
    assert (spec.domain, spec.name, spec.autorestart, spec.max_restart) == (
        "default",
        "web",
        "on-failure",
        3,
    )
    spec = config.program("w", {"command": "sh -c 'echo a b'", "stop_signal": "int"}, "p")
    assert spec.argv == ["sh", "-c", "echo a b"] and spec.stop_signal == 2


def test_two_programs_may_not_share_a_domain_and_name():
    tables = {"a": {"command": "x", "name": "same"}, "b": {"command": "y", "name": "same"}}
    with pytest.raises(ConfigError, match="already used"):
        config.programs({"programs": tables})
