"""A real ``watchkeeper serve`` following a Caddy log: SIGTERM saves what it read since the
last checkpoint (the seed promised it, the original never did); SIGKILL loses nothing either,
as reading resumes from the committed offsets."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from tests.integration.test_kpis_api import wait_for
from tests.integration.test_tailing import PACKAGES, caddy_file
from tests.support import ServerProcess


def config(tmp_path: Path, checkpoint: float) -> Path:
    (tmp_path / "packages.yml").write_text(PACKAGES)
    path = tmp_path / "server.toml"
    path.write_text(f"""
[[inputs]]
id = "caddy"
type = "file"
paths = ["{tmp_path / "caddy_access_logs*.json"}"]
format = "caddy"

[kpis]
packages = "{tmp_path / "packages.yml"}"
checkpoint_seconds = {checkpoint}
""")
    return path


def committed(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT coalesce(sum(counted), 0) FROM input_files").fetchone()[0]


def live_lines(server: ServerProcess) -> int:
    inputs = httpx.get(f"{server.url}/api/v1/inputs").json()["inputs"]
    return inputs[0]["lines"] if inputs else 0


def test_sigterm_saves_the_hour_in_memory(tmp_path: Path) -> None:
    caddy_file(tmp_path / "caddy_access_logs.json", 3_000, start=int(time.time()) - 600)
    db = tmp_path / "wk.db"
    toml = config(tmp_path, checkpoint=3600)  # no checkpoint would come before the stop
    server = ServerProcess(f"sqlite:///{db}", args=["--config", str(toml)]).start()
    try:
        wait_for(lambda: live_lines(server) >= 3_000)
        assert committed(db) == 0
    finally:
        server.stop()
    assert committed(db) == 3_000


def test_sigkill_then_restart_counts_every_line_once(tmp_path: Path) -> None:
    log = tmp_path / "caddy_access_logs.json"
    caddy_file(log, 2_000, start=int(time.time()) - 600)
    db = tmp_path / "wk.db"
    toml = config(tmp_path, checkpoint=0.2)
    server = ServerProcess(f"sqlite:///{db}", args=["--config", str(toml)]).start()
    wait_for(lambda: committed(db) >= 2_000)
    server.kill()
    # A file rolled in while the server was down.
    caddy_file(tmp_path / "caddy_access_logs-2.json", 500, start=int(time.time()) - 300)
    with ServerProcess(f"sqlite:///{db}", args=["--config", str(toml)]):
        wait_for(lambda: committed(db) >= 2_500)
        time.sleep(1)
        assert committed(db) == 2_500
