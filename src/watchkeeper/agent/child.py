"""A run's process on the event loop, for less than asyncio's subprocess machinery costs.

``asyncio.create_subprocess_exec`` builds a transport, a protocol, a pipe transport and a
stream reader per pipe, and a task to connect them: for a short command that is more CPU than
starting the process itself. Here the process is started by ``subprocess.Popen`` (as asyncio
does), its pipes are read when the loop says they are readable, and its exit is watched
through a pidfd on the same loop. Where the kernel has no pidfds (not Linux, or Linux before
5.3), asyncio's subprocess does the job behind the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from typing import Any, Protocol


class Output(Protocol):
    async def read(self, n: int) -> bytes: ...


class Child(Protocol):
    """What a program needs of its running process."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdout(self) -> Output: ...

    @property
    def stderr(self) -> Output: ...

    async def wait(self) -> int: ...

    async def feed(self, data: bytes) -> None:
        """Write ``data`` to the process's stdin, then close it (a process that exits
        without reading it is not waited for)."""

    def close(self) -> None:
        """Let go of the pipes (once the run is over; reading them stops)."""


def _pidfds() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


PIDFDS = _pidfds()


async def start(
    argv: list[str],
    *,
    stdin: bool,
    cwd: str | None,
    env: dict[str, str] | None,
) -> Child:
    """Start ``argv`` in a session of its own, stdout and stderr piped (stdin too if
    ``stdin``, else ``/dev/null``); raises ``OSError`` when it cannot start."""
    if PIDFDS:
        return _PidfdChild(argv, stdin=stdin, cwd=cwd, env=env)
    return await _AsyncioChild.start(argv, stdin=stdin, cwd=cwd, env=env)


class _Pipe:
    """One end of a pipe, used when the loop says it is ready."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        os.set_blocking(fd, False)
        self._loop = loop
        self.fd: int | None = fd

    async def read(self, n: int) -> bytes:
        while self.fd is not None:
            try:
                data = os.read(self.fd, n)
            except BlockingIOError:
                await _ready(self._loop.add_reader, self._loop.remove_reader, self.fd)
                continue
            if not data:
                self.close()
            return data
        return b""

    async def write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self.fd is not None:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                await _ready(self._loop.add_writer, self._loop.remove_writer, self.fd)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


async def _ready(add: Callable[..., Any], remove: Callable[[int], bool], fd: int) -> None:
    """Wait until the loop finds ``fd`` ready (``add`` is ``add_reader`` or ``add_writer``)."""
    waiter = asyncio.get_running_loop().create_future()
    add(fd, _wake, waiter)
    try:
        await waiter
    finally:
        remove(fd)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _PidfdChild:
    def __init__(
        self, argv: list[str], *, stdin: bool, cwd: str | None, env: dict[str, str] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin else (None, None)
        try:
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if in_r is None else in_r,
                stdout=out_w,
                stderr=err_w,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            for fd in (out_r, err_r, in_w):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in (out_w, err_w, in_r):
                if fd is not None:
                    os.close(fd)
        self.pid = self._popen.pid
        self._loop = loop
        self._out, self._err = _Pipe(loop, out_r), _Pipe(loop, err_r)
        self._in = None if in_w is None else _Pipe(loop, in_w)
        self._exited: asyncio.Future[int] = loop.create_future()
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except OSError:
            # Out of descriptors, say: a process nobody would watch must not stay behind.
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            self._popen.wait()
            self.close()
            raise
        loop.add_reader(self._pidfd, self._reap)

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        # The pidfd is readable once the process has exited: this wait does not block.
        code = self._popen.wait()
        if not self._exited.done():
            self._exited.set_result(code)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    @property
    def stdout(self) -> Output:
        return self._out

    @property
    def stderr(self) -> Output:
        return self._err

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    async def feed(self, data: bytes) -> None:
        if self._in is None:
            return
        try:
            await self._in.write_all(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self._in.close()

    def close(self) -> None:
        for pipe in (self._out, self._err, self._in):
            if pipe is not None:
                pipe.close()


class _AsyncioChild:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid

    @classmethod
    async def start(
        cls, argv: list[str], *, stdin: bool, cwd: str | None, env: dict[str, str] | None
    ) -> _AsyncioChild:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            limit=1 << 16,
        )
        return cls(proc)

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def stdout(self) -> Output:
        assert self._proc.stdout is not None
        return self._proc.stdout

    @property
    def stderr(self) -> Output:
        assert self._proc.stderr is not None
        return self._proc.stderr

    async def wait(self) -> int:
        return await self._proc.wait()

    async def feed(self, data: bytes) -> None:
        stdin = self._proc.stdin
        if stdin is None:
            return
        try:
            stdin.write(data)
            await stdin.drain()
            stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def close(self) -> None:
        pass  # asyncio's transports close their pipes themselves
