"""Record the Lamia session (tests/lamia_session.py) from the original Lamia server.

Starts the original server prepared by ``python -m benchmarks.lamia_original setup`` on a
loopback port and a fresh SQLite file, replays the session against it and writes each request
with the original's status, answer and answer's shape to ``tests/fixtures/lamia_session.json``,
which tests/integration/test_lamia_recorded.py replays against watchkeeper; then drives
Lamia's own Python client against it (tests/lamia_client_run.py) and records each HTTP
request the client made with its status. From the repository root::

    python -m tests.lamia_record --original /tmp/lamia-orig
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
from benchmarks.lamia_original import HOST, PINS, original_server

from tests.lamia_session import encode, replay, shape

FIXTURE = Path(__file__).parent / "fixtures" / "lamia_session.json"
#: Lamia's client is given the server's address without a path (it then uses its default,
#: ``/api/v0/``) or with ``/api/v0``: the address's path → the task it creates.
CLIENT_RUNS = {"": "client-default", "/api/v0": "client-v0"}


def run_client(original: Path, address: str, task: str) -> list[dict[str, Any]]:
    """Lamia's own client against ``address``: each HTTP request it made, with its status."""
    python = original / ".venv" / "bin" / "python"
    script = Path(__file__).parent / "lamia_client_run.py"
    out = subprocess.run(
        [str(python), str(script), str(original), address, task],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.splitlines()[-1])  # the client prints a line of its own before


def record(original: Path) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as directory,
        original_server(original, directory) as (port, _),
        httpx.Client() as http,
    ):

        def send(method: str, path: str, body: Any) -> tuple[int, Any]:
            headers = {} if body is None else {"Content-Type": "application/json"}
            url = f"http://{HOST}:{port}{path}"
            r = http.request(method, url, content=encode(body), headers=headers)
            try:
                return r.status_code, r.json()
            except ValueError:
                return r.status_code, r.text[:200]

        records = replay(send)
        client = {path: run_client(original, f"http://{HOST}:{port}{path}", task)
                  for path, task in CLIENT_RUNS.items()}  # fmt: skip
    python = original / ".venv" / "bin" / "python"
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True)
    for entry in records:
        entry["shape"] = shape(entry["answer"])
    return {
        "server": "CrankOne/lamia, branch development (lamia/monitoring), served by waitress",
        "pins": PINS,
        "installed": freeze.stdout.split(),
        "records": records,
        "client": client,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--original", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args()
    data = record(args.original)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(data['records'])} requests recorded in {args.out}")


if __name__ == "__main__":
    main()
