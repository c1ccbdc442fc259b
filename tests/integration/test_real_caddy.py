"""A real Caddy on loopback writes JSON access logs that roll at 1 MiB (keeping 5, gzipped
at once); the server follows them and counts every request exactly once."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_client
from tests.integration.test_kpis_api import wait_for
from tests.support import free_port

PACKAGES = """packages:
- {kind: zim, title: Wiki, url: "//kiwix.test/viewer#wiki"}
- {kind: files, title: Nomad, url: "//nomad.test/"}
"""


@pytest.fixture
def caddy(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.skip("caddy is not installed (.ci/run installs Debian's caddy)")
    port, logs = free_port(), tmp_path / "logs"
    logs.mkdir()
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(f"""{{
    admin off
    auto_https off
    storage file_system {tmp_path / "data"}
}}
http://:{port} {{
    bind 127.0.0.1
    log {{
        output file {logs / "caddy_access_logs.json"} {{
            roll_size 1MiB
            roll_keep 5
        }}
        format json
    }}
    header Content-Type "text/html; charset=utf-8"
    respond "ok" 200
}}
""")
    proc = subprocess.Popen(
        [binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path),
        },
    )
    try:
        wait_for(lambda: _up(port), timeout=20)
        yield port, logs
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _up(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_every_request_counted_once_across_rolls(caddy, tmp_path: Path, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    port, logs = caddy
    packages = tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    inputs = (
        {
            "id": "caddy",
            "type": "file",
            "format": "caddy",
            "poll_seconds": 0.05,
            "paths": [str(logs / "caddy_access_logs*.json")],
        },
    )
    kpis = {"packages": str(packages), "checkpoint_seconds": 0.5}
    pages = [
        ("kiwix.test", "/content/wiki/"),
        ("kiwix.test", "/content/wiki/A/Page"),
        ("nomad.test", "/"),
        ("nomad.test", "/doc.pdf"),
        ("other.test", "/"),
    ]
    sent = 6_000
    with make_client(sqlite_url, inputs=inputs, kpis=kpis) as client:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as web:
            for n in range(sent):
                host, path = pages[n % len(pages)]
                # A long header makes lines long, so the log rolls several times.
                web.get(path, headers={"Host": host, "X-Pad": "p" * 400, "User-Agent": f"t{n}"})
        rolled = list(logs.glob("caddy_access_logs-*.json.gz"))
        assert len(rolled) >= 2, "the log should have rolled several times"

        def counted() -> int:
            files = client.get("/api/v1/inputs").json()["inputs"][0]["committed"]["files"]
            return sum(f["counted"] for f in files)

        # The fixture's one successful readiness request is logged and counted too.
        wait_for(lambda: counted() >= sent + 1, timeout=60)
        time.sleep(1.5)  # anything counted twice would show by now
        assert counted() == sent + 1
    db = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        home = conn.execute(
            "SELECT sum(amount) FROM kpi_records WHERE indicator_id = 1001"
        ).fetchone()[0]
        items = conn.execute(
            "SELECT sum(amount) FROM kpi_records WHERE indicator_id = 1002"
        ).fetchone()[0]
    # Per round of 5 requests: two home pages (wiki, nomad), one wiki item.
    assert home == 2 * sent // 5
    assert items == sent // 5
