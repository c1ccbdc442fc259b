"""What the agent's process imports: no server stack, no command-line libraries.

The agent runs for months next to the programs it supervises; every module it imports is
resident memory for all that time (the RSS budget is in docs/performance.md).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

SERVER = {"fastapi", "sqlalchemy", "uvicorn", "starlette", "alembic", "psycopg", "jinja2"}
CLI = {"typer", "click", "rich", "pygments", "pydantic"}


def imported_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_the_agent_imports_no_server_stack():
    assert imported_by("import watchkeeper.agent.main") & SERVER == set()
    # Nor does the command line on its way to the agent.
    assert imported_by("import watchkeeper.cli, watchkeeper.agent.main") & SERVER == set()


def test_the_agent_speaks_http_with_one_library():
    """aiohttp, for the CPU it saves per request; httpx (the CLI's) stays out."""
    modules = imported_by("import watchkeeper.agent.main")
    assert "aiohttp" in modules
    assert modules & {"httpx", "httpcore", "anyio"} == set()


def test_the_agent_process_leaves_the_command_line_behind(tmp_path):
    """``watchkeeper agent`` reads its options with Typer (which loads Pydantic), then
    becomes a fresh interpreter with the same pid that loads neither."""
    (tmp_path / "agent.toml").write_text(
        # Nothing listens at the server: a short shutdown_timeout spares the 5 s the agent
        # would keep trying to hand it its last events.
        "[agent]\ngid = 1\nnid = 1\nshutdown_timeout = 0.1\n[programs.p]\ncommand = 'sleep 60'\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "agent", "--config", str(tmp_path / "agent.toml"),
         "--server", "http://127.0.0.1:9", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while b"watchkeeper.agent" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        while not psutil.Process(proc.pid).children():  # its program runs
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "sqlite3" in maps  # the agent is running
        assert "pydantic_core" not in maps
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
