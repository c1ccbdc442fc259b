"""The shell and Python examples of README.md and docs/*.md, run against a live server.

So that a document cannot drift from the code, every example a reader might paste is run here
against a real ``watchkeeper serve``. The rules, for whoever writes the docs:

- A fenced block whose info string starts with ``sh``, ``bash`` or ``python`` is run. Others
  (``json``, ``text``, ``toml``, ``markdown``, none) are not.
- ``no-run`` in the info string (```` ```sh no-run ````) keeps a block from running: one that
  starts a server, runs until Ctrl-C, calls ``make`` or a benchmark, or needs another machine.
- ``fails`` in the info string marks a block showing a refusal: it must exit non-zero.
- Each document gets a server of its own (SQLite in a temporary directory) and its blocks run in
  order, so a block may read what an earlier block of the same document stored.
- ``127.0.0.1:7070``, ``localhost:7070`` and ``monitor:7070`` stand for that server, and
  ``WATCHKEEPER_SERVER`` names it to the client commands. ``.venv/bin/`` is the bin directory of
  the Python running the tests, which is also first on ``PATH``.
- Blocks run with ``set -e -o pipefail`` in an empty directory holding ``fleet.ndjson`` (a few
  of the fleet's messages). ``curl`` fails on an HTTP error (``--fail-with-body``) and ends each
  answer with a newline.
- A comment ``# <JSON>`` (or ``# <status> <JSON>``) in a shell block shows an answer: one line
  the block prints must be that JSON value.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
import pytest

from tests.fleet import HISTORY
from tests.support import ServerProcess

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"sh", "bash", "python"}
HOSTS = re.compile(r"\b(?:127\.0\.0\.1|localhost|monitor):7070\b")
FENCE = re.compile(r"^\s*```(.*)$")  # indented too: a block may sit in a list item
SHOWN = re.compile(r"^\s*#\s*(?:\d{3}\s+)?([\[{].*)$")
CURL = 'curl() { command curl -sS --fail-with-body "$@"; local rc=$?; echo; return $rc; }\n'


@dataclass
class Block:
    line: int
    language: str
    flags: set[str]
    text: str

    @property
    def runs(self) -> bool:
        return self.language in RUN and "no-run" not in self.flags


def blocks(path: pathlib.Path) -> list[Block]:
    found: list[Block] = []
    info: list[str] | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fence = FENCE.match(line)
        if fence and info is None:
            info, start, body = fence.group(1).split(), number, []
        elif line.strip() == "```" and info is not None:
            language = info[0] if info else ""
            text = textwrap.dedent("\n".join(body))
            found.append(Block(start, language, set(info[1:]), text))
            info = None
        elif info is not None:
            body.append(line)
    return found


def documents_with_examples() -> list[pathlib.Path]:
    return [path for path in DOCUMENTS if any(b.runs for b in blocks(path))]


def test_the_rules_see_every_block():
    """Every runnable-looking block is either run or marked; the README has examples."""
    names = {p.name for p in documents_with_examples()}
    assert {"README.md", "api.md", "state.md"} <= names
    for path in DOCUMENTS:
        for block in blocks(path):
            assert block.flags <= {"no-run", "fails"}, (path.name, block.line, block.flags)


def answers_shown(text: str) -> list[object]:
    shown = []
    for line in text.splitlines():
        match = SHOWN.match(line)
        if match:
            # prose that happens to start with a bracket is no answer
            with contextlib.suppress(ValueError):
                shown.append(json.loads(match.group(1)))
    return shown


def printed(stdout: str) -> list[object]:
    values = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            values.append(json.loads(line))
    return values


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, ServerProcess]]:
    """A fresh server per document, all started at once: starting is most of the time."""
    base = tmp_path_factory.mktemp("docs")
    procs = {
        # The in-process writer starts faster; what the examples show is the same with either.
        path.name: ServerProcess(
            f"sqlite:///{base / path.stem}.db",
            args=["--writer", "thread"],
            log_path=str(base / f"{path.stem}.log"),
        )
        for path in documents_with_examples()
    }
    try:
        with ThreadPoolExecutor(len(procs)) as pool:
            # Generous: several servers start at once on a machine that may be busy.
            list(pool.map(lambda proc: proc.start(timeout=120), procs.values()))
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.mark.parametrize("path", documents_with_examples(), ids=lambda p: p.name)
def test_examples_run_against_a_live_server(path, servers, tmp_path):
    server = servers[path.name]
    (tmp_path / "fleet.ndjson").write_bytes(b"\n".join(orjson.dumps(item) for item in HISTORY))
    bin_dir = str(pathlib.Path(sys.executable).parent)
    address = server.url.removeprefix("http://")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")},
        "WATCHKEEPER_SERVER": server.url,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "COLUMNS": "120",
    }
    for block in blocks(path):
        if not block.runs:
            continue
        text = HOSTS.sub(address, block.text).replace(".venv/bin/", bin_dir + "/")
        where = f"{path.name}:{block.line}"
        if block.language == "python":
            command = [sys.executable, "-c", text]
        else:
            command = ["bash", "-e", "-o", "pipefail", "-c", CURL + text]
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        output = f"{where}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        if "fails" in block.flags:
            assert result.returncode != 0, f"expected a refusal at {output}"
        else:
            assert result.returncode == 0, output
        values = printed(result.stdout)
        for answer in answers_shown(block.text):
            assert answer in values, f"{where} shows {answer}, which was not printed\n{output}"
