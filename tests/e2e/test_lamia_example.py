"""``examples/lamia.sh`` against a live server, and concurrent creates of one name."""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess

import httpx
import orjson
import pytest

from tests.support import ServerProcess, free_port

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "lamia.sh"


def need_curl() -> None:
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("curl is needed to run examples/lamia.sh")
        pytest.skip("curl is not installed")


def run_example(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(EXAMPLE), url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def answers(out: str) -> list[tuple[str, int, str]]:
    """``(title, status, body)`` of every call the script printed."""
    pattern = re.compile(r"^== (.*)\n\S+ \S+\nHTTP (\d{3})\n(.*)$", re.M)
    return [(m[1], int(m[2]), m[3]) for m in pattern.finditer(out)]


def test_the_curl_walk_through(db_url, tmp_path):
    need_curl()
    with ServerProcess(db_url, log_path=str(tmp_path / "server.log")) as server:
        result = run_example(server.url, LAMIA_TASK="walk")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    calls = answers(result.stdout)
    assert [status for _, status, _ in calls] == (
        [201, 409, 400, 400, 200, 200, 200, 200]
        + [201] * 10
        + [201] * 8
        + [400, 400, 400, 404]
        + [200] * 6
        + [403, 200, 404]
    )
    by_title = {title: orjson.loads(body) for title, _, body in calls}
    assert by_title["tasks tagged 'three' (none)"] == {"entries": [], "total": 0}
    assert by_title["tasks tagged 'testing' and 'two', names and tags only"] == {
        "entries": [{"name": "walk", "tags": ["testing", "one", "two"]}],
        "total": 1,
    }
    done = [orjson.loads(body) for title, _, body in calls if title.startswith("tstArray2[")][3:]
    assert [(d["progress"], d["enough"]) for d in done] == [
        (12.5, False),
        (25.0, False),
        (37.5, False),
        (50.0, False),
        (62.5, False),
        (75.0, False),
        (87.5, False),
        (100.0, True),
    ]
    assert by_title["tstArray1[1] PROGRESS"]["progress"] == 13.0  # (40 + 90) / 10
    with_done = by_title["processes of this task with a DONE job"]
    assert [p["name"] for p in with_done] == ["tstArray2", "someJob1"]
    slot = by_title["events of tstArray2[3]"]
    assert [e["eventClass"] for e in slot["entries"]] == ["SUBMITTED", "STARTED", "BEAT", "DONE"]
    assert {e["clientIP"] for e in slot["entries"]} == {"127.0.0.1"}
    newest = by_title["the last two DONE events of tstArray2, newest first"]
    assert [e["procNumInArray"] for e in newest["entries"]] == [7, 6]
    assert by_title["one event by id"]["id"] == newest["entries"][0]["id"]
    jobs = by_title["the same jobs as watchkeeper tasks"]["tasks"]
    assert [(t["id"], t["status"]) for t in jobs][:4] == [
        ("walk/someJob1", "finished"),
        ("walk/tstArray1[0]", "running"),
        ("walk/tstArray1[1]", "running"),
        ("walk/tstArray1[2]", "failed"),
    ]
    group = by_title["the task as a watchkeeper group"]
    assert [(p["name"], p["progress"], p["enough"]) for p in group["processes"]] == [
        ("tstArray1", 13.0, False),
        ("tstArray2", 100.0, True),
        ("someJob1", 100.0, True),
    ]
    assert result.stdout.rstrip().endswith("done")


def test_the_walk_through_stops_at_the_first_failure():
    need_curl()
    result = run_example(f"http://127.0.0.1:{free_port()}")
    assert result.returncode != 0
    assert "done" not in result.stdout.splitlines()


def test_concurrent_creates_of_one_name_make_one_task(tmp_path):
    with ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}") as server:
        url = f"{server.url}/api/v0/contested"

        def create(i: int) -> int:
            body = {"processes": {f"p{i}": None}}
            return httpx.post(url, json=body, timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(create, range(16)))
        assert statuses == [201] + [409] * 15
        (proc,) = httpx.get(url).json()["processes"]
        winner = proc["name"]
        assert httpx.post(f"{url}/{winner}/event", json={"eventClass": "DONE"}).status_code == 201


def test_the_stale_threshold_comes_from_the_environment(tmp_path):
    env = {"WATCHKEEPER_LAMIA_STALE_AFTER": "0"}
    with ServerProcess(f"sqlite:///{tmp_path / 'wk.db'}", env=env) as server:
        url = f"{server.url}/api/v0/t"
        assert httpx.post(url, json={"processes": {"solo": None}}).status_code == 201
        assert httpx.post(f"{url}/solo/event", json={"eventClass": "STARTED"}).status_code == 201
        assert httpx.get(f"{url}/solo").json()["staleJobs"] == 1
