"""``type = "command"``: a supervised shipper's JSON lines on stdout, leftovers killed at start,
restarted after it exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.integration.test_kpis_api import wait_for
from tests.integration.test_tailing import PACKAGES
from watchkeeper.config import ConfigError
from watchkeeper.inputs.settings import parse_inputs

SHIPPER = """import json, os, sys, time
line = {"level": "info", "ts": time.time(), "msg": "handled request",
        "request": {"host": "nomad.test", "uri": "/", "method": "GET"}, "status": 200}
for _ in range(3):
    print(json.dumps({"@metadata": {"beat": "filebeat"}, "message": json.dumps(line)}))
print("not json", flush=True)
if os.environ.get("LINGER"):
    time.sleep(60)
"""


def test_shipper_is_supervised(sqlite_url: str, tmp_path: Path) -> None:
    script, packages = tmp_path / "shipper.py", tmp_path / "packages.yml"
    script.write_text(SHIPPER)
    packages.write_text(PACKAGES)
    command = [sys.executable, str(script)]
    leftover = subprocess.Popen(
        command, env={**os.environ, "LINGER": "1"}, stdout=subprocess.DEVNULL
    )
    inputs = (
        {
            "id": "beat",
            "type": "command",
            "command": command,
            "format": "caddy",
            "restart_after": 0.3,
        },
    )
    kpis = {"packages": str(packages), "checkpoint_seconds": 0.2}
    try:
        with make_client(sqlite_url, inputs=inputs, kpis=kpis) as client:
            leftover.wait(timeout=10)  # killed: it would sleep for a minute

            def state() -> dict:
                return client.get("/api/v1/inputs").json()["inputs"][0]

            wait_for(lambda: state()["starts"] >= 2 and state()["committed"]["files"])
            wait_for(lambda: state()["committed"]["files"][0]["counted"] >= 6)
            files = state()["committed"]["files"][0]
            assert files["counted"] % 3 == 0 and files["parseErrors"] >= 2
            assert state()["committed"]["errorSamples"][0]["line"] == "not json"
    finally:
        if leftover.poll() is None:
            leftover.kill()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"id": "x", "type": "command"}, "command"),
        ({"id": "x", "type": "file"}, "paths"),
        ({"id": "x", "type": "file", "paths": ["/a"], "read_from": "middle"}, "read_from"),
        ({"id": "x", "type": "socket"}, "type"),
        ({"id": "bad id!", "paths": ["/a"]}, "id"),
        ({"id": "x", "paths": ["/a"], "format": "xml"}, "format"),
    ],
)
def test_bad_input_tables_are_refused(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_inputs([table])


def test_serve_refuses_inputs_that_cannot_start(tmp_path: Path) -> None:
    toml = tmp_path / "server.toml"
    toml.write_text(
        '[[inputs]]\nid = "caddy"\npaths = ["/var/log/x*.json"]\n\n'
        f'[kpis]\npackages = "{tmp_path / "missing.yml"}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "serve", "--config", str(toml), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "kpis.packages" in done.stderr and "missing.yml" in done.stderr
