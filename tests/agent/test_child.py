"""A run's process: started, read, fed and reaped on the loop, by pidfd or by asyncio."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from watchkeeper.agent import child

KINDS = ["pidfd", "asyncio"] if child.PIDFDS else ["asyncio"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(child, "PIDFDS", request.param == "pidfd")
    return str(request.param)


def run(coro):
    if sys.version_info < (3, 12):
        asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())  # for the asyncio kind
    return asyncio.run(coro)


async def _all(output: child.Output) -> bytes:
    chunks = []
    while chunk := await output.read(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


async def _run(argv: list[str], data: bytes | None = None) -> tuple[int, bytes, bytes, int]:
    proc = await child.start(argv, stdin=data is not None, cwd=None, env=None)
    if data is not None:
        feeding = asyncio.create_task(proc.feed(data))
    out, err, code = await asyncio.gather(_all(proc.stdout), _all(proc.stderr), proc.wait())
    if data is not None:
        await feeding
    assert proc.returncode == code == await proc.wait()  # waited for more than once
    proc.close()
    return code, out, err, proc.pid


def test_output_exit_code_and_a_session_of_its_own(kind: str) -> None:
    script = (
        "import os, sys; print('out'); print('err', file=sys.stderr); "
        "print(os.getsid(0)); sys.exit(3)"
    )
    code, out, err, pid = run(_run([sys.executable, "-c", script]))
    assert code == 3
    lines = out.decode().split()
    assert lines[0] == "out" and int(lines[1]) == pid  # it leads a session of its own
    assert err == b"err\n"


def test_stdin_is_fed_then_closed_and_large_output_is_read_whole(kind: str) -> None:
    data = os.urandom(300_000).hex().encode()  # more than a pipe holds, both ways
    script = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1])"
    code, out, _err, _pid = run(_run([sys.executable, "-c", script], data))
    assert code == 0 and out == data[::-1]


def test_a_program_that_ignores_its_stdin_is_not_waited_for(kind: str) -> None:
    code, out, _err, _pid = run(_run(["true"], b"x" * 1_000_000))
    assert code == 0 and out == b""


def test_a_signal_is_a_negative_code(kind: str) -> None:
    async def killed() -> int:
        proc = await child.start(["sleep", "30"], stdin=False, cwd=None, env=None)
        assert proc.returncode is None
        os.killpg(proc.pid, signal.SIGKILL)
        code = await proc.wait()
        await _all(proc.stdout)
        proc.close()
        return code

    assert run(killed()) == -signal.SIGKILL


def test_environment_and_working_directory(kind: str, tmp_path: os.PathLike[str]) -> None:
    async def shown() -> bytes:
        proc = await child.start(
            ["sh", "-c", 'echo "$WK_X $(pwd)"'],
            stdin=False,
            cwd=str(tmp_path),
            env={"WK_X": "y", "PATH": os.environ["PATH"]},
        )
        out = await _all(proc.stdout)
        await proc.wait()
        proc.close()
        return out

    assert run(shown()).decode().split() == ["y", str(tmp_path)]


def test_a_missing_executable_raises_and_leaves_no_descriptor(kind: str) -> None:
    before = len(os.listdir("/proc/self/fd"))

    async def missing() -> None:
        with pytest.raises(OSError):
            await child.start(["/nonexistent/program"], stdin=True, cwd=None, env=None)

    run(missing())
    assert len(os.listdir("/proc/self/fd")) == before


def test_no_descriptor_is_left_once_closed(kind: str) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        run(_run(["echo", "hi"], b"ignored"))
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_process_that_cannot_be_watched_is_killed_not_left(monkeypatch) -> None:
    if not child.PIDFDS:
        pytest.skip("no pidfds here")

    def no_pidfd(pid: int) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(child.os, "pidfd_open", no_pidfd)
    before = len(os.listdir("/proc/self/fd"))
    started: list[int] = []
    real_popen = child.subprocess.Popen

    def popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc.pid)
        return proc

    monkeypatch.setattr(child.subprocess, "Popen", popen)

    async def start() -> None:
        with pytest.raises(OSError, match="Too many open files"):
            await child.start(["sleep", "30"], stdin=True, cwd=None, env=None)

    asyncio.run(start())
    assert len(started) == 1
    assert not os.path.exists(f"/proc/{started[0]}")  # killed and reaped
    assert len(os.listdir("/proc/self/fd")) == before
